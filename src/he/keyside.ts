/**
 * The key owner's entry into the HE module: SEAL contexts and the byte-level helpers that
 * decrypting needs. Only the key custodian (src/custodian/internal) imports this (a lint rule
 * says so); the IdP uses src/he/index.ts, from which no decryption is reachable.
 */
export { createHeContext, type CiphertextKind, type HeContext } from './context.ts';
export { centredCoefficient, isWasmTrap, loadSeal, loadPublicKey, plainBytes, plaintextFromCoefficients, savePublicKey, sealCall, sealHeapBytes, type SealModule } from './seal.ts';
