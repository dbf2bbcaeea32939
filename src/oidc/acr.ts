/**
 * Authentication context class references this provider asserts (OpenID Connect Core 1.0,
 * section 2, `acr`) and the RFC 8176 authentication method references behind them.
 */
export const ACR_FACE = 'urn:faceid-fhe:acr:face';
export const ACR_FACE_OTP = 'urn:faceid-fhe:acr:face+otp';
export const ACR_VALUES = [ACR_FACE, ACR_FACE_OTP] as const;
export type Acr = (typeof ACR_VALUES)[number];

/** RFC 8176, section 2: `face` (facial biometric), `otp` (one-time password), `mfa` (multiple factors). */
export const AMR_FACE = ['face'] as const;
export const AMR_FACE_OTP = ['face', 'otp', 'mfa'] as const;
