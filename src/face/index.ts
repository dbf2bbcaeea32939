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
 * the configuration the IdP compares: a template enrolled from 3 pictures against a probe that is
 * the consensus of several (FaceEngine.probe). `npm run bench:accuracy -- --enroll 3` on LFW
 * (2026-12-03, quality gate on): against one photo FAR 1e-4 falls at 0.3116 (95% upper bound
 * 0.3092, 2.3 M comparisons); against the consensus of two photos of a person, which sits nearer
 * everyone's template, at 0.2934 (2.3 M comparisons). An impostor can upload several different
 * pictures of themselves, so the threshold holds for the consensus: 0.29. It was 0.35 (FAR 1e-3),
 * then 0.30 (FAR 1e-4 against one photo); FRR at 0.29 is in the README ("Match threshold").
 */
export const DEFAULT_MATCH_THRESHOLD = 0.29;

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
