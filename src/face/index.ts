/**
 * Face capability: camera frames -> face descriptors, in a worker-thread pool. Never imports the
 * web layers; never logs or stores frames or descriptors.
 *
 * Output: DESCRIPTOR_DIMENSION (128) float32 values, L2-normalised (norm 1 +- 1e-6, so every element
 * is in [-1, 1]; observed |x| < 0.45). Two descriptors match when their Euclidean distance is below
 * DEFAULT_MATCH_THRESHOLD (equivalently squared distance < threshold^2, what the HE matcher computes).
 */
import { DEFAULT_CONSENSUS_LIMITS, DEFAULT_DETECTION_LIMITS, DEFAULT_PIPELINE, modelVersionOf } from './engine.ts';
import { FRAME_LIMITS } from './limits.ts';

export { createFaceEngine, type FaceEngine, type FaceEngineOptions } from './engine.ts';
export { validateFrame, type FrameInfo } from './validate.ts';
export { FACE_ERRORS, type FaceErrorCode } from './errors.ts';
export type { ConsensusLimits, DetectionLimits, FrameLimits } from './limits.ts';

/**
 * Euclidean distance between two (L2-normalised) descriptors below which they are the same person.
 * Chosen for false-accept <= 1e-3 (NIST SP 800-63B, 5.2.3) on LFW: see bench/accuracy.ts, run of
 * <to be filled>.
 */
export const DEFAULT_MATCH_THRESHOLD = 0.4;

export const DESCRIPTOR_DIMENSION = 128;

/** Version of the default pipeline: stored with each template. */
export const FACE_MODEL_VERSION = modelVersionOf(DEFAULT_PIPELINE);

export const FACE_LIMITS = Object.freeze({
  frame: FRAME_LIMITS,
  detection: DEFAULT_DETECTION_LIMITS,
  consensus: DEFAULT_CONSENSUS_LIMITS,
});
