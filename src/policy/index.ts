import { ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY, ACR_PASSKEY_FACE, acrRank, satisfies, type Acr } from './acr.ts';

/**
 * The sign-in policy as one table: the factors there are, the acr level each set of factors makes,
 * the order the pages ask for them, and the amr each yields (RFC 8176). The interaction router asks
 * `nextStep` after every step; the account page asks `levelsFor` what an account can reach. A new
 * factor is a new row here and a new capability module, not an edit to every step.
 */
export { ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY, ACR_PASSKEY_FACE, ACR_VALUES, acceptableAcrs, assertedAcr, satisfies, type Acr, type AcrParams } from './acr.ts';

export type Factor = 'face' | 'otp' | 'passkey';

export interface Level {
  readonly acr: Acr;
  /** The factors, in the order a sign-in that starts with none of them asks for them. */
  readonly factors: readonly Factor[];
  /** A deployment must switch this level on (PASSKEY_ONLY_ACR): no face is seen. */
  readonly optIn?: true;
  readonly description: string;
}

export const LEVELS: readonly Level[] = [
  { acr: ACR_FACE, factors: ['face'], description: 'your face' },
  { acr: ACR_FACE_OTP, factors: ['face', 'otp'], description: 'your face and a one-time code (authenticator app or recovery code)' },
  { acr: ACR_PASSKEY_FACE, factors: ['passkey', 'face'], description: 'a passkey and your face' },
  { acr: ACR_PASSKEY, factors: ['passkey'], optIn: true, description: 'a passkey alone' },
];

/** How a factor was met: a passkey's flags decide its amr values. */
export interface FactorDone {
  factor: Factor;
  /** Passkeys: backed up / synced (a software key) or bound to one device (hardware). */
  backedUp?: boolean;
  /** Passkeys: the authenticator verified the user (PIN, biometric), WebAuthn's UV flag. */
  userVerified?: boolean;
  /** Face: presentation-attack detection (a liveness challenge) was passed. */
  pad?: boolean;
}

/**
 * amr value saying that the face was checked for presentation attacks (src/liveness). RFC 8176
 * registers no such value; RFC 8176 (6.1) lets deployments use their own, and a URN cannot
 * collide with a registered one. Listed in discovery (`amr_values_supported`).
 */
export const AMR_PAD = 'urn:faceid-fhe:amr:pad';

/**
 * RFC 8176 (2) amr values: `face`; `otp` (a TOTP code or a recovery code); a passkey is `hwk`
 * (proof of possession of a hardware-bound key) or `swk` (a synced, software-held key), plus
 * `user` when the authenticator verified the user; `mfa` when two or more factors were used.
 */
export function amrOf(done: readonly FactorDone[]): string[] {
  const amr: string[] = [];
  for (const step of done) {
    if (step.factor === 'face') amr.push('face');
    if (step.factor === 'face' && step.pad) amr.push(AMR_PAD);
    if (step.factor === 'otp') amr.push('otp');
    if (step.factor === 'passkey') {
      amr.push(step.backedUp ? 'swk' : 'hwk');
      if (step.userVerified) amr.push('user');
    }
  }
  if (new Set(done.map((step) => step.factor)).size >= 2) amr.push('mfa');
  return [...new Set(amr)];
}

export interface PolicyInput {
  /** What the relying party accepts (acceptableAcrs of the request); undefined: anything. */
  acceptable: readonly Acr[] | undefined;
  /** The factors the account has set up (face always, once it is known). */
  enrolled: ReadonlySet<Factor>;
  /** The factors met so far in this sign-in, in order. */
  done: readonly FactorDone[];
  /** Deployment setting: may a passkey alone sign in (ACR_PASSKEY)? */
  passkeyOnly: boolean;
}

export type Next =
  | { kind: 'ask'; factor: Factor; level: Acr }
  | { kind: 'done'; acr: Acr; amr: string[] }
  | { kind: 'unmet' };

/**
 * After a step: the strongest level that contains what was done, that the account can finish, and
 * that the request accepts. Its next missing factor is asked for; when none is missing the sign-in
 * is done with that level. Strongest, so that every factor an account has set up is used (an
 * account with TOTP always gets the code after the face, as NIST SP 800-63B-4 3.2.3 wants a
 * biometric with a physical authenticator). Nothing fits: unmet (the relying party gets
 * unmet_authentication_requirements, never a weaker token).
 */
export function nextStep(input: PolicyInput): Next {
  const done = new Set(input.done.map((step) => step.factor));
  const fitting = LEVELS.filter((level) =>
    (!level.optIn || input.passkeyOnly) &&
    [...done].every((factor) => level.factors.includes(factor)) &&
    // A factor just met counts as the account's (a recovery code is an `otp` even without TOTP).
    level.factors.every((factor) => input.enrolled.has(factor) || done.has(factor)) &&
    satisfies(level.acr, input.acceptable));
  if (fitting.length === 0) return { kind: 'unmet' };
  const target = fitting.reduce((best, level) => (acrRank(level.acr) > acrRank(best.acr) ? level : best));
  const missing = target.factors.find((factor) => !done.has(factor));
  if (missing) return { kind: 'ask', factor: missing, level: target.acr };
  return { kind: 'done', acr: target.acr, amr: amrOf(input.done) };
}

/** The levels an account with these factors reaches (the account page shows them). */
export function levelsFor(enrolled: ReadonlySet<Factor>, passkeyOnly: boolean): Level[] {
  return LEVELS.filter((level) => (!level.optIn || passkeyOnly) && level.factors.every((factor) => enrolled.has(factor)));
}

/**
 * The factors a sign-in for this request can start with (the first factor of every level the
 * request accepts). The login page leads with the passkey when it is the only way in.
 */
export function firstFactors(acceptable: readonly Acr[] | undefined, passkeyOnly: boolean): Set<Factor> {
  return new Set(LEVELS.filter((level) => (!level.optIn || passkeyOnly) && satisfies(level.acr, acceptable)).map((level) => level.factors[0]!));
}
