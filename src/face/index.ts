/**
 * Face capability: camera frames -> face descriptors, in a worker-thread pool. Never imports the
 * web layers; never logs or stores frames or descriptors.
 *
 * Output: DESCRIPTOR_DIMENSION (128) float32 values, L2-normalised (norm 1 +- 1e-6, so every element
 * is in [-1, 1]; observed max |x| 0.38 on LFW). Two descriptors match when their Euclidean distance is below
 * DEFAULT_MATCH_THRESHOLD (equivalently squared distance < threshold^2, what the HE matcher computes).
 */
import { DEFAULT_CONSENSUS_LIMITS, DEFAULT_DETECTION_LIMITS, DEFAULT_PIPELINE, modelVersionOf } from './engine.ts';
import { FRAME_LIMITS } from './limits.ts';

export { createFaceEngine, LEGACY_MODELS, TRACK_SEARCH_EVERY, type FaceEngine, type FaceEngineOptions, type FrameObservation, type LegacyModel } from './engine.ts';
export { validateFrame, type FrameInfo } from './validate.ts';
export type { FaceErrorCode } from './errors.ts';
export type { ConsensusLimits, DetectionLimits, FrameLimits } from './limits.ts';

/**
 * Euclidean distance between two descriptors (as output: L2-normalised) below which they are the
 * same person. Chosen for a false-match rate <= 1e-4 (NIST SP 800-63B-4 3.2.3; FIDO's biometric
 * certification asks the same) on the decision the encrypted match makes (quantised, src/he), in
 * the configuration the IdP compares: a template enrolled from 3 pictures against a probe.
 * `npm run bench:accuracy -- --enroll 3` on LFW (2026-12-03, 5,824 images, 418 templates against
 * every acquired picture of the other identities, 2.4 M comparisons): FAR 1e-4 at 0.3116, its
 * 95% upper bound at 1e-4 at 0.3096; 0.30 leaves room for the comparisons not being independent
 * (they share templates and probes) and for a split the threshold was not read from. It was
 * 0.35 (FAR 1e-3) before; FRR at 0.30 is in the README ("Match threshold").
 */
export const DEFAULT_MATCH_THRESHOLD = 0.3;

export const DESCRIPTOR_DIMENSION = 128;

/** Version of the default pipeline: stored with each template. */
export const FACE_MODEL_VERSION = modelVersionOf(DEFAULT_PIPELINE);

export const FACE_LIMITS = Object.freeze({
  frame: FRAME_LIMITS,
  detection: DEFAULT_DETECTION_LIMITS,
  consensus: DEFAULT_CONSENSUS_LIMITS,
});

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    bad_frame_count: true;
    face_model_unknown: true;
  }
}
