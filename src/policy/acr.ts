/**
 * Authentication context class references this provider asserts (OpenID Connect Core 1.0,
 * section 2, `acr`), which ones satisfy a request for which (a table, not a number line: a
 * passkey alone is not a face), and how a request names what it accepts.
 */
// No '+' in the values: in a hand-built query string it decodes to a space, which would turn
// "face+otp" into two values, the first of them the weaker one.
export const ACR_FACE = 'urn:faceid-fhe:acr:face';
export const ACR_FACE_OTP = 'urn:faceid-fhe:acr:face-otp';
export const ACR_PASSKEY_FACE = 'urn:faceid-fhe:acr:passkey-face';
export const ACR_PASSKEY = 'urn:faceid-fhe:acr:passkey';
export const ACR_VALUES = [ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE, ACR_PASSKEY] as const;
export type Acr = (typeof ACR_VALUES)[number];

/**
 * What an authentication of each acr also satisfies. Face + a second factor satisfies a request
 * for the face alone; passkey + face (phishing-resistant possession plus the face) satisfies one
 * for face + TOTP; a passkey alone satisfies only a request for a passkey (no face was seen).
 */
const SATISFIES: Readonly<Record<Acr, readonly Acr[]>> = {
  [ACR_FACE]: [ACR_FACE],
  [ACR_FACE_OTP]: [ACR_FACE, ACR_FACE_OTP],
  [ACR_PASSKEY_FACE]: [ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE],
  [ACR_PASSKEY]: [ACR_PASSKEY],
};

/** Strength for choosing among satisfied values (what the ID token asserts); a higher one is never weaker. */
const RANK: Readonly<Record<Acr, number>> = { [ACR_FACE]: 1, [ACR_PASSKEY]: 2, [ACR_FACE_OTP]: 2, [ACR_PASSKEY_FACE]: 3 };

const isAcr = (value: unknown): value is Acr => typeof value === 'string' && (ACR_VALUES as readonly string[]).includes(value);

interface AcrClaimRequest {
  essential?: boolean;
  value?: string;
  values?: string[];
}

export interface AcrParams {
  acr_values?: unknown;
  claims?: unknown;
}

/** acr values named by `acr_values` (OIDC Core 3.1.2.1) and by a `claims` acr request (5.5.1.1). */
function requestedAcrs(params: AcrParams): string[] {
  const requested: string[] = [];
  if (typeof params.acr_values === 'string') requested.push(...params.acr_values.split(' '));
  if (typeof params.claims === 'string') {
    try {
      const acr = (JSON.parse(params.claims) as { id_token?: { acr?: AcrClaimRequest } }).id_token?.acr;
      if (acr?.value) requested.push(acr.value);
      if (Array.isArray(acr?.values)) requested.push(...acr.values.filter((value): value is string => typeof value === 'string'));
    } catch {
      // oidc-provider has already refused a malformed claims parameter
    }
  }
  return requested;
}

/**
 * The acr values the relying party accepts (any of them will do), or undefined when it names
 * none of ours: then there is no requirement (the face is always done).
 */
export function acceptableAcrs(params: AcrParams): Acr[] | undefined {
  const known = [...new Set(requestedAcrs(params).filter(isAcr))];
  return known.length > 0 ? known : undefined;
}

/** Whether an authentication with `achieved` meets a request that accepts `acceptable`. */
export function satisfies(achieved: string | undefined, acceptable: readonly Acr[] | undefined): boolean {
  if (!acceptable) return true;
  if (!isAcr(achieved)) return false;
  return SATISFIES[achieved].some((value) => acceptable.includes(value));
}

/**
 * The acr to put in the ID token: what was achieved, or, when the relying party named acr values,
 * the strongest named value the achieved context satisfies — so that a request for `face` answered
 * by face+TOTP does not loop on oidc-provider's exact-match check of an essential acr.
 */
export function assertedAcr(achieved: Acr, params: AcrParams): Acr {
  const acceptable = acceptableAcrs(params);
  if (!acceptable) return achieved;
  const met = SATISFIES[achieved].filter((value) => acceptable.includes(value));
  if (met.length === 0) return achieved;
  return met.reduce((best, value) => (RANK[value] > RANK[best] ? value : best));
}

/** For ordering levels by strength (the policy table picks the strongest one an account reaches). */
export const acrRank = (acr: Acr): number => RANK[acr];
