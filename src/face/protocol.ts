import type { FaceErrorCode } from './errors.ts';
import type { DetectionLimits, FrameLimits } from './limits.ts';
import type { PipelineConfig } from './pipeline.ts';
import type { FaceQuality } from './quality.ts';

/**
 * The messages between the face engine (engine.ts, on the pool) and its worker threads
 * (worker.ts), in one place, like the custodian's protocol.ts. Frames go in as transferred
 * ArrayBuffers (the worker zeroes them once decoded); descriptors come back transferred.
 */

/** What every worker is started with (workerData). */
export interface WorkerInit {
  readonly pipelines: readonly PipelineConfig[];
  readonly frameLimits: FrameLimits;
  readonly detectionLimits: DetectionLimits;
}

export interface DescribeRequest {
  readonly frame: ArrayBuffer;
  /** Indices into `pipelines` (default: [0]). */
  readonly variants?: readonly number[];
  /**
   * A liveness burst's frame (FaceEngine.observe): also return the 68 landmarks and the
   * appearance, and compute the descriptor in one pass, without the mirror image. Within one
   * burst it only has to tell one person from another (identity continuity, src/liveness); the
   * match against the template uses the full pipeline on the burst's key frames. Half the
   * descriptor's cost on every burst frame (bench/liveness.ts).
   */
  readonly observe?: boolean;
  /**
   * Where the face was in the burst's previous frame (tracking, FaceEngine.observe): the detector
   * searches a window around it first, on a fraction of the pixels; the whole frame when the
   * window shows no face.
   */
  readonly near?: Detection;
}

export interface Detection {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly score: number;
}

export interface FrameTimings {
  decode: number;
  detect: number;
  landmarks: number;
  descriptor: number;
}

/** One pipeline's result for one frame: a descriptor, or a typed refusal of the frame. */
export type VariantResult =
  | {
    readonly ok: true; readonly descriptor: Float32Array; readonly face: Detection; readonly detector: number; readonly faceSize: number;
    /** Observed frames only: the 68 landmarks (x0, y0, x1, y1, ...) in frame pixels, head pose for liveness (src/liveness). */
    readonly landmarks?: Float32Array;
    /** Observed frames only: how the face and its surroundings look, coarsely (appearance.ts), continuity for liveness. */
    readonly appearance?: Float32Array;
    /** Frames outside a liveness burst, with 68 landmarks: the measures of the quality gate (quality.ts). */
    readonly quality?: FaceQuality;
    /** The decoded frame's size in pixels. */
    readonly frame?: { readonly width: number; readonly height: number };
  }
  | { readonly ok: false; readonly code: FaceErrorCode };

export type DescribeResponse =
  | { readonly id: number; readonly ok: true; readonly results: VariantResult[]; readonly timings: FrameTimings }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

/** What the analyser hands back for one frame. */
export interface AnalyseResult {
  readonly results: VariantResult[];
  readonly timings: FrameTimings;
}
