import type { AccountService } from '../accounts/index.ts';
import { normaliseUsername, validateSignup } from '../accounts/index.ts';
import type { Audit } from '../audit/index.ts';
import type { BiometricService, Verdict } from '../biometric/index.ts';
import type { Totp } from '../mfa/index.ts';
import { ACR_FACE, ACR_FACE_OTP, AMR_FACE, AMR_FACE_OTP, type Acr } from '../oidc/acr.ts';
import { AppError, isAppError } from '../shared/index.ts';
import { FACE_POLICY, IP_POLICY, TOTP_POLICY, type Throttle, type ThrottleKey } from '../throttle/index.ts';

/**
 * The sign-in and sign-up steps, free of Koa and oidc-provider: the router parses the request,
 * calls one of these, and hands the decision to `result.ts`. Any doubt in the face step is a
 * denial (fail closed); every outcome is audited.
 */

export interface LoginDecision {
  accountId: string;
  acr: Acr;
  amr: string[];
}

interface RequestContext {
  clientId?: string;
  ip?: string;
}

/** After the face step: done, or a TOTP code is needed, or the account cannot meet the request. */
type FaceOutcome =
  | { kind: 'done'; decision: LoginDecision }
  | { kind: 'totp'; accountId: string }
  | { kind: 'unmet'; accountId: string };

interface FlowDeps {
  accounts: AccountService;
  biometric: BiometricService;
  audit: Audit;
  totp: Totp;
  throttle: Throttle;
  /** Request rates per client IP (fixed windows). */
  rates?: Partial<typeof DEFAULT_RATES>;
  /** Failure policies (lockout lengths); the defaults follow NIST SP 800-63B. */
  policies?: Partial<typeof DEFAULT_POLICIES>;
}

export const DEFAULT_POLICIES = { face: FACE_POLICY, totp: TOTP_POLICY, ip: IP_POLICY };

export const DEFAULT_RATES = {
  /** Camera submissions (each costs ~0.25 s of CPU) per IP per minute. */
  facePerMinute: 30,
  /** Account creations per IP per hour. */
  signupPerHour: 10,
  /** Second-factor submissions per IP per minute. */
  totpPerMinute: 30,
};

const DENIED_MESSAGE = 'Your face did not match this account. Check the lighting, look at the camera and try again.';
const TOTP_DENIED_MESSAGE = 'That code is not valid or was already used. Enter the current code from your authenticator app, or a recovery code.';

export function createInteractionFlow(deps: FlowDeps) {
  const rates = { ...DEFAULT_RATES, ...deps.rates };
  const policies = { ...DEFAULT_POLICIES, ...deps.policies };
  const ipKey = (prefix: string, ip: string | undefined): ThrottleKey[] =>
    ip ? [{ key: `${prefix}:${ip}`, policy: policies.ip, resetOnSuccess: false }] : [];

  async function recordLockout(lock: { lockedMs: number; lockedNow: boolean }, kind: string, accountId: string | null, context: RequestContext) {
    if (!lock.lockedNow) return;
    await deps.audit.record({ type: 'lockout', outcome: kind, accountId, clientId: context.clientId ?? null, ip: context.ip ?? null, detail: { seconds: Math.ceil(lock.lockedMs / 1000) } });
  }

  const waitHint = (lock: { lockedMs: number }) =>
    lock.lockedMs > 0 ? ` Too many failed attempts: please wait ${Math.ceil(lock.lockedMs / 1000)} seconds before the next one.` : '';

  return {
    /** The username to prefill when the session's user is asked to authenticate again. */
    async usernameOf(accountId: string | undefined): Promise<string | undefined> {
      return accountId ? (await deps.accounts.findById(accountId))?.username : undefined;
    },

    /**
     * Face sign-in for `username`. The answer for an unknown username is the same denial as for a
     * wrong face, after the same face work, so the step does not reveal which usernames exist.
     * `requiredAccountId` pins a re-authentication (step-up, prompt=login) to the session's account.
     * An account with TOTP always continues with a code (the factors are chained); an account
     * without it cannot satisfy a request that requires face+TOTP (`requireOtp`).
     */
    async faceSignIn(input: { username: string; frames: Uint8Array[]; requiredAccountId?: string; requireOtp?: boolean } & RequestContext): Promise<FaceOutcome> {
      if (input.ip) await deps.throttle.hit(`face-rate:${input.ip}`, rates.facePerMinute, 60_000);
      const request = { clientId: input.clientId ?? null, ip: input.ip ?? null };
      // Keyed by the username as typed (normalised), whether or not it exists: a lockout then
      // looks the same for every username and reveals nothing.
      const reservation = await deps.throttle.reserve([
        { key: `face:${normaliseUsername(input.username)}`, policy: policies.face },
        ...ipKey('face-ip', input.ip),
      ]);
      let account: Awaited<ReturnType<AccountService['findByUsername']>>;
      let verdict: Verdict;
      try {
        account = await deps.accounts.findByUsername(input.username);
        const pinnedElsewhere = input.requiredAccountId !== undefined && account?.id !== input.requiredAccountId;
        const template = account && !pinnedElsewhere ? await deps.accounts.template(account.id) : undefined;
        verdict = await deps.biometric.verify({
          accountId: template ? account!.id : undefined,
          template: template && { ciphertext: template.ciphertext, heParams: template.he_params, modelVersion: template.model_version },
          frames: input.frames,
        });
      } catch (error) {
        // Not evaluated (no usable face, custodian or database down...): the attempt does not count.
        await reservation.release().catch(() => undefined);
        if (isAppError(error) && error.status < 500) {
          await deps.audit.record({ type: 'face_refused', outcome: error.code, accountId: account?.id ?? null, ...request });
        }
        throw error;
      }
      if (verdict !== 'match' || !account) {
        const lock = await reservation.fail();
        await deps.audit.record({ type: 'signin', outcome: 'denied', accountId: account?.id ?? null, ...request, detail: { reason: verdict } });
        await recordLockout(lock, 'face', account?.id ?? null, input);
        throw new AppError('face_not_matched', `${DENIED_MESSAGE}${waitHint(lock)}`, { status: 401 });
      }
      await reservation.succeed();
      if (await deps.totp.isEnabled(account.id)) return { kind: 'totp', accountId: account.id };
      if (input.requireOtp) {
        await deps.audit.record({ type: 'signin', outcome: 'unmet', accountId: account.id, ...request, detail: { reason: 'no_totp' } });
        return { kind: 'unmet', accountId: account.id };
      }
      await deps.audit.record({ type: 'signin', outcome: 'success', accountId: account.id, ...request, detail: { amr: [...AMR_FACE] } });
      return { kind: 'done', decision: { accountId: account.id, acr: ACR_FACE, amr: [...AMR_FACE] } };
    },

    /**
     * The second factor after a face match: a 6-digit TOTP code, or one of the recovery codes in
     * its place. Either gives amr ["face","otp","mfa"] (RFC 8176; a recovery code is a one-time
     * password too).
     */
    async totpSignIn(input: { accountId: string; code: string } & RequestContext): Promise<LoginDecision> {
      if (input.ip) await deps.throttle.hit(`totp-rate:${input.ip}`, rates.totpPerMinute, 60_000);
      const reservation = await deps.throttle.reserve([{ key: `totp:${input.accountId}`, policy: policies.totp }, ...ipKey('totp-ip', input.ip)]);
      const code = input.code.trim();
      const viaRecovery = !/^\d{6}$/.test(code);
      let ok: boolean;
      try {
        ok = viaRecovery ? await deps.totp.useRecoveryCode(input.accountId, code) : await deps.totp.verify(input.accountId, code);
      } catch (error) {
        await reservation.release();
        throw error;
      }
      const context = { accountId: input.accountId, clientId: input.clientId ?? null, ip: input.ip ?? null };
      if (!ok) {
        const lock = await reservation.fail();
        await deps.audit.record({ type: 'totp_denied', outcome: 'denied', ...context, detail: { method: viaRecovery ? 'recovery_code' : 'totp' } });
        await recordLockout(lock, 'totp', input.accountId, input);
        throw new AppError('totp_invalid', `${TOTP_DENIED_MESSAGE}${waitHint(lock)}`, { status: 401 });
      }
      await reservation.succeed();
      await deps.audit.record({ type: 'signin', outcome: 'success', ...context, detail: { amr: [...AMR_FACE_OTP], method: viaRecovery ? 'recovery_code' : 'totp' } });
      return { accountId: input.accountId, acr: ACR_FACE_OTP, amr: [...AMR_FACE_OTP] };
    },

    /** Sign-up: validate the form first (cheap), then enroll the face, then create both at once. */
    async signUp(input: { fields: Record<string, string | undefined>; frames: Uint8Array[] } & RequestContext): Promise<LoginDecision> {
      const form = validateSignup(input.fields);
      if (input.ip) await deps.throttle.hit(`signup-rate:${input.ip}`, rates.signupPerHour, 60 * 60_000);
      if (await deps.accounts.findByUsername(form.username)) {
        throw new AppError('username_taken', 'That username is taken. Please choose another.', { status: 409 });
      }
      const template = await deps.biometric.enroll(input.frames);
      const account = await deps.accounts.create(form, template, { ip: input.ip, clientId: input.clientId });
      return { accountId: account.id, acr: ACR_FACE, amr: [...AMR_FACE] };
    },
  };
}

export type InteractionFlow = ReturnType<typeof createInteractionFlow>;
