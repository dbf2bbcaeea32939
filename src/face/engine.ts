import os from 'node:os';
import { AppError, silentLogger, type Logger } from '../shared/index.ts';
import { combineFrames, type FrameOutcome } from './consensus.ts';
import { faceError, isFaceErrorCode } from './errors.ts';
import { FRAME_LIMITS, type ConsensusLimits, type DetectionLimits, type FrameLimits } from './limits.ts';
import { FACE_API_VERSION } from './models.ts';
import { pipelineDimension, pipelineKey, type PipelineConfig } from './pipeline.ts';
import { WorkerPool } from './pool.ts';
import { validateFrame } from './validate.ts';
import type { FaceErrorCode } from './errors.ts';
import type { AnalyseResult, DescribeRequest, DescribeResponse, Detection, WorkerInit } from './protocol.ts';

/**
 * The production pipeline, chosen by measurement on LFW (bench/accuracy.ts --compare):
 * - detection: TinyFaceDetector (320); when it finds no face, SSD MobileNet v1, then SSD on the
 *   frame zoomed out (centred on a grey canvas twice as large: SSD misses faces that fill most of
 *   the frame, as in LFW or a user close to the camera). A retry costs time only on frames where
 *   the previous detector found nothing. Tiny first and SSD first are equally accurate; Tiny is
 *   ~5x faster.
 * - 68 landmarks, dlib's 150x150 chip alignment (align.ts), face-api's 128-d ResNet descriptor of the
 *   chip averaged with that of its mirror image, L2-normalised.
 */
export const DEFAULT_PIPELINE: PipelineConfig = Object.freeze({
  detectors: Object.freeze([{ net: 'tiny' as const, inputSize: 320 }, { net: 'ssd' as const }, { net: 'ssd' as const, pad: 0.5 }]),
  align: 'dlib' as const,
  mirror: true,
  descriptor: 'rec128' as const,
  normalise: true,
});

export const DEFAULT_DETECTION_LIMITS: DetectionLimits = Object.freeze({
  minScore: 0.5,
  minFaceSize: 60,
  secondFaceRatio: 0.5,
  dominantFaceRatio: 0.8,
  centralZone: 0.5,
  // The quality gate (quality.ts), read off LFW by `npm run bench:accuracy` ("Quality gate",
  // 2026-12-03): it refuses 1.24% of the acquired photos (46 turned past 0.4 jaw widths, near
  // profile; 25 blurred), whose genuine pairs are falsely rejected 71% of the time at the match
  // threshold (47% for the others); the webcam frames of a user facing the camera measure
  // |yaw| < 0.3, sharpness 0.2-0.4.
  maxYaw: 0.4,
  minSharpness: 0.09,
});

export const DEFAULT_CONSENSUS_LIMITS: ConsensusLimits = Object.freeze({
  agreeDistance: 0.45,
  minEnrollFrames: 3,
  minProbeFrames: 1,
  maxFrames: 10,
});

export function modelVersionOf(pipeline: PipelineConfig): string {
  return `faceapi-${FACE_API_VERSION}/${pipelineKey(pipeline)}/v1`;
}

export interface AnalyserOptions {
  /** Worker threads (default: os.availableParallelism(), at least 1). */
  workers?: number;
  logger?: Logger;
  /** Per-frame time limit in ms, queueing excluded (default 15 s: a frame takes ~0.25 s). */
  timeoutMs?: number;
  /** Time allowed for a worker to load its models (default 60 s). */
  startTimeoutMs?: number;
  /** Frames waiting for a worker beyond this are refused with face_engine_unavailable (default 64). */
  maxQueue?: number;
  frameLimits?: Partial<FrameLimits>;
  detection?: Partial<DetectionLimits>;
  /** Pipelines computed by the workers; the first is the default. */
  pipelines?: readonly PipelineConfig[];
}

export type { AnalyseResult } from './protocol.ts';

/** Lower-level than FaceEngine: frame -> per-pipeline outcomes and timings (used by the benchmarks). */
export interface FaceAnalyser {
  readonly pipelines: readonly PipelineConfig[];
  readonly frameLimits: FrameLimits;
  analyse(frame: Uint8Array, request?: Pick<DescribeRequest, 'variants' | 'observe' | 'near'>): Promise<AnalyseResult>;
  close(): Promise<void>;
}

/** The analyser plus what only the face engine may use. */
interface EngineAnalyser extends FaceAnalyser {
  /** analyse() without the frame check: only for frames the caller has just validated. */
  submit(frame: Uint8Array, request?: Pick<DescribeRequest, 'variants' | 'observe' | 'near'>): Promise<AnalyseResult>;
  /** Number of worker threads. */
  readonly workers: number;
  /** Refuses (503) a group of `n` frames that the queue cannot take whole (see WorkerPool.admits). */
  admit(n: number): void;
}

export function createFaceAnalyser(options: AnalyserOptions = {}): Promise<FaceAnalyser> {
  return startAnalyser(options);
}

async function startAnalyser(options: AnalyserOptions): Promise<EngineAnalyser> {
  const frameLimits: FrameLimits = Object.freeze({ ...FRAME_LIMITS, ...options.frameLimits });
  const detectionLimits: DetectionLimits = Object.freeze({ ...DEFAULT_DETECTION_LIMITS, ...options.detection });
  const pipelines = options.pipelines?.length ? options.pipelines : [DEFAULT_PIPELINE];
  const init: WorkerInit = { pipelines, frameLimits, detectionLimits };
  const workers = Math.max(1, Math.floor(options.workers ?? os.availableParallelism()));
  const pool = new WorkerPool({
    url: new URL('./worker.ts', import.meta.url),
    size: workers,
    workerData: init,
    timeoutMs: options.timeoutMs ?? 15_000,
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    maxQueue: options.maxQueue ?? 64,
    logger: options.logger ?? silentLogger,
  });
  try {
    await pool.ready();
  } catch (error) {
    await pool.close();
    throw error;
  }

  async function submit(frame: Uint8Array, request: Pick<DescribeRequest, 'variants' | 'observe' | 'near'> = {}): Promise<AnalyseResult> {
    // One copy into a buffer of our own, which is then moved (transferred, not cloned) to the
    // worker: the caller's buffer is never detached, and the worker zeroes the copy once decoded.
    const copy = new ArrayBuffer(frame.byteLength);
    new Uint8Array(copy).set(frame);
    const response = (await pool.run({ ...request, frame: copy }, [copy])) as DescribeResponse;
    if (!response.ok) {
      throw isFaceErrorCode(response.code) ? faceError(response.code) : faceError('face_engine_unavailable', 'face worker error');
    }
    return { results: response.results, timings: response.timings };
  }

  return {
    pipelines,
    frameLimits,
    async analyse(frame, request) {
      validateFrame(frame, frameLimits);
      return submit(frame, request);
    },
    submit,
    workers,
    admit(n) {
      if (!pool.admits(n)) throw faceError('face_engine_unavailable', 'face engine overloaded');
    },
    close: () => pool.close(),
  };
}

export type FrameObservation =
  | { readonly ok: true; readonly descriptor: Float32Array; readonly landmarks: Float32Array; readonly appearance: Float32Array; readonly face: Detection; readonly frame: { readonly width: number; readonly height: number } }
  | { readonly ok: false; readonly code: FaceErrorCode };

/**
 * A pipeline that made templates before the current one, with the match threshold measured for
 * it. Its templates still verify; on a successful sign-in the account gets a template of the
 * current model, made from the same frames (src/biometric), so nobody has to enrol again.
 */
export interface LegacyModel {
  readonly pipeline: PipelineConfig;
  readonly threshold: number;
}

/**
 * The production pipeline's predecessors. When DEFAULT_PIPELINE changes, its old value goes here
 * with its threshold, until `npm run cli -- templates:status` shows no template of it is left.
 * Empty: every template in production is of the current model.
 */
export const LEGACY_MODELS: readonly LegacyModel[] = Object.freeze([]);

export interface FaceEngineOptions extends Omit<AnalyserOptions, 'pipelines'> {
  consensus?: Partial<ConsensusLimits>;
  /** Overrides the production pipeline (benchmarks); it changes modelVersion. */
  pipeline?: PipelineConfig;
  /** Older models whose templates still verify (default LEGACY_MODELS). */
  legacy?: readonly LegacyModel[];
}

export interface FaceEngine {
  /** Stored with every template: a template is only comparable with probes of the same version. */
  readonly modelVersion: string;
  /** Number of elements of every descriptor this engine outputs. */
  readonly dimension: number;
  /** One frame -> one descriptor, or a typed refusal (AppError). */
  describe(frame: Uint8Array): Promise<Float32Array>;
  /** Several frames of one enrollment session -> one template (see consensus.ts). */
  enroll(frames: Uint8Array[]): Promise<Float32Array>;
  /**
   * One or more verification frames -> one probe descriptor (same consistency rule), of the
   * current model, or of the legacy model `modelVersion` (to compare with a template of it).
   */
  probe(frames: Uint8Array[], modelVersion?: string): Promise<Float32Array>;
  /** The legacy models this engine can still probe for, with their thresholds. */
  readonly legacy: ReadonlyArray<{ readonly modelVersion: string; readonly threshold: number }>;
  /**
   * A burst of frames -> what each shows (a one-pass descriptor, 68 landmarks, appearance, box)
   * or why not, for the liveness check (src/liveness): see DescribeRequest.observe. Every frame is
   * validated before any work is queued.
   */
  observe(frames: Uint8Array[]): Promise<FrameObservation[]>;
  close(): Promise<void>;
}

/** Within a burst, one frame in this many is searched whole (FaceEngine.observe); the others near the face. */
export const TRACK_SEARCH_EVERY = 3;

export async function createFaceEngine(options: FaceEngineOptions = {}): Promise<FaceEngine> {
  const pipeline = options.pipeline ?? DEFAULT_PIPELINE;
  const legacy = (options.legacy ?? LEGACY_MODELS).filter((l) => modelVersionOf(l.pipeline) !== modelVersionOf(pipeline));
  const consensus: ConsensusLimits = { ...DEFAULT_CONSENSUS_LIMITS, ...options.consensus };
  // The workers know every pipeline (they share the models); a request names the one it needs.
  const pipelines = [pipeline, ...legacy.map((l) => l.pipeline)];
  const analyser = await startAnalyser({ ...options, pipelines });
  const variantOf = (modelVersion: string | undefined): number => {
    if (modelVersion === undefined) return 0;
    const v = pipelines.findIndex((p) => modelVersionOf(p) === modelVersion);
    if (v < 0) throw new AppError('face_model_unknown', `No pipeline for face model ${modelVersion}.`, { status: 500, expose: false });
    return v;
  };

  /** One frame the caller has validated -> its outcome (the worker checks it again as it decodes). */
  async function describeOne(frame: Uint8Array, variant = 0): Promise<FrameOutcome> {
    const { results } = await analyser.submit(frame, { variants: [variant] });
    const r = results[0];
    if (!r) throw faceError('face_engine_unavailable', 'empty worker answer');
    if (r.ok) return { ok: true, descriptor: r.descriptor };
    if (!isFaceErrorCode(r.code)) throw faceError('face_engine_unavailable', 'unexpected worker answer');
    return { ok: false, code: r.code };
  }

  async function combine(frames: Uint8Array[], minFrames: number, variant = 0): Promise<Float32Array> {
    if (!Array.isArray(frames) || frames.length < minFrames || frames.length > consensus.maxFrames) {
      throw new AppError('bad_frame_count', `Between ${minFrames} and ${consensus.maxFrames} pictures are expected.`, { status: 400 });
    }
    // Malformed or oversized frames refuse the whole request before any work is queued.
    for (const frame of frames) validateFrame(frame, analyser.frameLimits);
    analyser.admit(frames.length);
    const settled = await Promise.allSettled(frames.map((frame) => describeOne(frame, variant)));
    const outcomes: FrameOutcome[] = [];
    let failure: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') outcomes.push(s.value);
      else failure ??= s.reason;
    }
    try {
      if (failure !== undefined) throw failure;
      return combineFrames(outcomes, { agreeDistance: consensus.agreeDistance, minFrames, normalise: pipelines[variant]!.normalise }).descriptor;
    } finally {
      for (const o of outcomes) if (o.ok) o.descriptor.fill(0);
    }
  }

  return {
    modelVersion: modelVersionOf(pipeline),
    dimension: pipelineDimension(pipeline),
    async describe(frame) {
      validateFrame(frame, analyser.frameLimits);
      const outcome = await describeOne(frame);
      if (!outcome.ok) throw faceError(outcome.code);
      return outcome.descriptor;
    },
    async observe(frames) {
      for (const frame of frames) validateFrame(frame, analyser.frameLimits);
      analyser.admit(frames.length);
      const observeOne = async (frame: Uint8Array, near: Detection | undefined): Promise<FrameObservation> => {
        const { results } = await analyser.submit(frame, { observe: true, near });
        const r = results[0];
        if (!r) throw faceError('face_engine_unavailable', 'empty worker answer');
        if (!r.ok) {
          if (!isFaceErrorCode(r.code)) throw faceError('face_engine_unavailable', 'unexpected worker answer');
          return { ok: false, code: r.code };
        }
        if (!r.landmarks || !r.appearance || !r.frame) throw faceError('face_engine_unavailable', 'this pipeline gives no landmarks');
        return { ok: true, descriptor: r.descriptor, landmarks: r.landmarks, appearance: r.appearance, face: r.face, frame: r.frame };
      };
      // Tracking: the burst in one consecutive run of frames per worker; in each run, a frame is
      // searched near the previous frame's face, and every TRACK_SEARCH_EVERY-th frame (and any
      // frame after a miss) on the whole frame, where the one-face rule sees everything.
      // A run's frames are queued one after another, so a burst no longer enters the queue whole:
      // the admission above refuses a burst the queue cannot take now, and if a later frame is
      // refused (overload: 503) the other runs stop instead of finishing work for a failed request.
      const observations: FrameObservation[] = new Array(frames.length);
      const runs = Math.max(1, Math.min(analyser.workers, frames.length));
      const size = Math.ceil(frames.length / runs);
      let failed = false;
      await Promise.all(Array.from({ length: runs }, async (_, r) => {
        let near: Detection | undefined;
        for (let i = r * size; i < Math.min(frames.length, (r + 1) * size) && !failed; i += 1) {
          try {
            const o = await observeOne(frames[i]!, (i - r * size) % TRACK_SEARCH_EVERY === 0 ? undefined : near);
            observations[i] = o;
            near = o.ok ? o.face : undefined;
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      }));
      return observations;
    },
    enroll: (frames) => combine(frames, consensus.minEnrollFrames),
    probe: async (frames, modelVersion) => combine(frames, consensus.minProbeFrames, variantOf(modelVersion)),
    legacy: legacy.map((l) => ({ modelVersion: modelVersionOf(l.pipeline), threshold: l.threshold })),
    close: () => analyser.close(),
  };
}
