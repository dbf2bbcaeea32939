/**
 * Homomorphic matching, public-key side only: no secret key is reachable from this module (the
 * key custodian, src/custodian, owns it). See engine.ts for the protocol and params.ts for the
 * parameter choice.
 */
export { createHeEngine, type HeEngine, type HeEngineOptions, type HeKey } from './engine.ts';
export { DEFAULT_HE_PARAMS, HE_PARAM_SETS, getHeParams, type HeParams } from './params.ts';
export { plainDecision, quantisationMargin, quantise, quantiseThreshold, quantisedDistanceSq } from './quantise.ts';
// The key owner's side (contexts, decryption helpers) is src/he/keyside.ts, for the custodian only.
