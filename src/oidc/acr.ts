/**
 * Authentication context class references this provider asserts (OpenID Connect Core 1.0,
 * section 2, `acr`) and the RFC 8176 authentication method references behind them.
 */
// No '+' in the values: in a hand-built query string it decodes to a space, which would turn
// "face+otp" into two values, the first of them the weaker one.
export const ACR_FACE = 'urn:faceid-fhe:acr:face';
export const ACR_FACE_OTP = 'urn:faceid-fhe:acr:face-otp';
export const ACR_VALUES = [ACR_FACE, ACR_FACE_OTP] as const;
export type Acr = (typeof ACR_VALUES)[number];

/** RFC 8176, section 2: `face` (facial biometric), `otp` (one-time password), `mfa` (multiple factors). */
export const AMR_FACE = ['face'] as const;
export const AMR_FACE_OTP = ['face', 'otp', 'mfa'] as const;

/** Our acr values, weakest first: a stronger context satisfies a request for a weaker one. */
const STRENGTH: Record<string, number> = { [ACR_FACE]: 1, [ACR_FACE_OTP]: 2 };

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
 * The weakest acr the relying party will accept. Only values we know count; when the request
 * names none of them there is no requirement (face is always done).
 */
export function requiredAcr(params: AcrParams): Acr | undefined {
  const known = requestedAcrs(params).filter((value) => STRENGTH[value] !== undefined);
  if (known.length === 0) return undefined;
  return known.reduce((weakest, value) => (STRENGTH[value]! < STRENGTH[weakest]! ? value : weakest)) as Acr;
}

/** Whether an authentication with `acr` satisfies a requirement. */
export function satisfies(acr: string | undefined, required: Acr | undefined): boolean {
  if (!required) return true;
  return acr !== undefined && (STRENGTH[acr] ?? 0) >= STRENGTH[required]!;
}

/**
 * The acr to put in the ID token: what was achieved, or, when the relying party named acr values,
 * the strongest named value the achieved context satisfies — so that a request for `face` answered
 * by face+TOTP does not loop on oidc-provider's exact-match check of an essential acr.
 */
export function assertedAcr(achieved: Acr, params: AcrParams): Acr {
  const satisfied = requestedAcrs(params).filter((value) => STRENGTH[value] !== undefined && STRENGTH[value]! <= STRENGTH[achieved]!);
  if (satisfied.length === 0) return achieved;
  return satisfied.reduce((best, value) => (STRENGTH[value]! > STRENGTH[best]! ? value : best)) as Acr;
}
