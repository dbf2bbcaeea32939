/**
 * Homomorphic matching, public-key side only: no secret key is reachable from this module (the
 * key custodian, src/custodian, owns it). See engine.ts for the protocol and params.ts for the
 * parameter choice.
 */
export { createHeEngine, type HeEngine, type HeEngineOptions, type HeKey } from './engine.ts';
export { DEFAULT_HE_PARAMS, HE_PARAM_SETS, getHeParams, type HeParams } from './params.ts';
export { plainDecision, quantisationMargin, quantise, quantiseThreshold, quantisedDistanceSq } from './quantise.ts';
// The key owner's side (contexts, decryption helpers) is src/he/keyside.ts, for the custodian only.

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    he_bad_ciphertext: true;
    he_bad_descriptor: true;
    he_bad_key_id: true;
    he_bad_public_key: true;
    he_bad_threshold: true;
    he_closed: true;
    he_internal: true;
    he_key_mismatch: true;
    he_params_invalid: true;
    he_params_mismatch: true;
    he_params_unknown: true;
    he_unavailable: true;
  }
}
