/**
 * Homomorphic matching, public-key side only: no secret key is reachable from this module (the
 * key custodian, src/custodian, owns it). See engine.ts for the protocol and params.ts for the
 * parameter choice.
 */
export { createHeEngine, type HeEngine, type HeEngineOptions, type HeKey } from './engine.ts';
export { DEFAULT_HE_PARAMS, HE_PARAM_SETS, getHeParams, type HeParams } from './params.ts';
export { plainDecision, quantisationMargin, quantise, quantiseThreshold, quantisedDistanceSq } from './quantise.ts';
// For the key custodian, which decrypts with these same parameters and envelopes.
export { createHeContext, type CiphertextKind, type HeContext } from './context.ts';
export { centredCoefficient, isWasmTrap, loadSeal, plainBytes, savePublicKey, sealCall, sealHeapBytes, type SealModule } from './seal.ts';
