/**
 * The face module's entry for research tooling (bench/accuracy.ts, bench/faces.ts): the
 * analyser that runs several pipelines on the same frames, the pipeline vocabulary, and the
 * consensus rule, so that candidates are measured with exactly the product's code. The product
 * itself uses src/face/index.ts; nothing else outside src/face reaches its files (lint rule).
 */
export { combineFrames, distance, type FrameOutcome } from './consensus.ts';
export {
  createFaceAnalyser, DEFAULT_CONSENSUS_LIMITS, DEFAULT_DETECTION_LIMITS, DEFAULT_PIPELINE, modelVersionOf,
  type AnalyserOptions, type FaceAnalyser,
} from './engine.ts';
export { isFaceErrorCode } from './errors.ts';
export { FRAME_LIMITS } from './limits.ts';
export { qualityRefusal, type FaceQuality, type QualityRule } from './quality.ts';
export { pipelineDimension, pipelineKey, type PipelineConfig } from './pipeline.ts';
export type { AnalyseResult, VariantResult } from './protocol.ts';
