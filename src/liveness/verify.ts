import type { Action } from './challenges.ts';
import { planarResidual, pose, type Landmarks } from './geometry.ts';

/** What the face engine saw in one frame of the burst (src/face FrameObservation, structurally). */
export type Observation =
  | {
    readonly ok: true; readonly landmarks: Landmarks; readonly descriptor: Float32Array;
    /** Mean RGB of the face's centre, then a 6x6 grey grid of the face and its surroundings (src/face/appearance.ts). */
    readonly appearance: Float32Array;
  }
  | { readonly ok: false; readonly code: string };

/**
 * Limits of the burst check, measured (test/liveness, bench/liveness.ts): genuine head turns from
 * ../shared/faces/video (the performer turns to about +0.16 on his left and -0.30 on his right,
 * 0.035-0.066 jaw widths of parallax between frontal and turned frames) against prints held,
 * moved and tilted up to 55 degrees close to the camera (yaw proxy swing at most ~0.18, parallax at
 * most ~0.039, almost all of it landmark error on the foreshortened face).
 */
export interface LivenessLimits {
  minFrames: number;
  maxFrames: number;
  /** Capture times: at least this far apart, never a longer gap, total span in range. */
  minIntervalMs: number;
  maxGapMs: number;
  minDurationMs: number;
  maxDurationMs: number;
  /** A turn to the user's left reaches yaw >= turnYaw; to the right, yaw <= -turnYaw. */
  turnYaw: number;
  /** Between the peaks of two consecutive turns the yaw must swing at least this much. */
  minSwing: number;
  /** No single frame-to-frame step carries more than this share of a turn's swing. */
  maxStepShare: number;
  /** Frontal-to-turned parallax (jaw widths) that a flat picture does not reach. */
  minParallax: number;
  /** How fast the face may move across the frame (jaw widths per second) and change scale (ln per second). */
  maxSpeed: number;
  maxScaleRate: number;
  /** Identity continuity: descriptor distance between consecutive frames, and to the burst's median. */
  maxStepDistance: number;
  maxMedianDistance: number;
  /**
   * Appearance continuity between consecutive frames (a photo swap changes light and surroundings
   * from one frame to the next): the surroundings' grey grids correlate at least this much, the
   * face centre's brightness changes by at most this log ratio, its chromaticity by at most this.
   */
  minContextCorrelation: number;
  maxBrightnessStep: number;
  maxChromaStep: number;
  /** How many of the most frontal frames are handed on for the match (and enrollment). */
  keyFrames: number;
}

export const DEFAULT_LIVENESS_LIMITS: LivenessLimits = Object.freeze({
  minFrames: 8,
  maxFrames: 40,
  minIntervalMs: 60,
  maxGapMs: 700,
  minDurationMs: 1_200,
  maxDurationMs: 12_000,
  turnYaw: 0.12,
  minSwing: 0.27,
  maxStepShare: 0.75,
  minParallax: 0.03,
  maxSpeed: 4,
  maxScaleRate: 1.5,
  maxStepDistance: 0.4,
  maxMedianDistance: 0.45,
  minContextCorrelation: 0.55,
  maxBrightnessStep: 0.35,
  maxChromaStep: 0.035,
  keyFrames: 3,
});

/**
 * Why a burst was refused. The first group the user can fix (the page says how); the second
 * is what presentation attacks produce, and is answered with one generic `liveness_failed` so
 * that an attacker learns nothing about which check caught them (the reason goes to the audit log).
 */
export type LivenessReason =
  | 'face_lost' | 'multiple_faces' | 'face_too_small' | 'action_missing' | 'wrong_order' | 'timing'
  | 'identity_switch' | 'appearance_cut' | 'track_jump' | 'jerky_turn' | 'planar';

export type BurstVerdict =
  | { ok: true; keyFrames: number[]; trace: BurstTrace }
  | { ok: false; reason: LivenessReason; action?: Action; trace?: BurstTrace };

export interface BurstTrace {
  yaw: number[];
  peaks: number[];
  parallax: number;
}

export interface BurstInput {
  actions: readonly Action[];
  observations: readonly Observation[];
  /** Capture times in ms, as the page measured them (untrusted: only their shape is checked). */
  times: readonly number[];
  /** How long the challenge had been out when the burst arrived (server clock). */
  elapsedMs: number;
}

const SIDE: Partial<Record<Action, 1 | -1>> = { turn_left: 1, turn_right: -1 };

/** Pure: the burst's frames, as the face engine saw them, against the challenge's actions. */
export function verifyBurst(input: BurstInput, limits: LivenessLimits = DEFAULT_LIVENESS_LIMITS): BurstVerdict {
  const { observations: obs, times } = input;
  if (obs.length < limits.minFrames || obs.length > limits.maxFrames || times.length !== obs.length) return { ok: false, reason: 'timing' };
  for (let i = 1; i < times.length; i += 1) {
    const gap = times[i]! - times[i - 1]!;
    if (!(gap >= limits.minIntervalMs && gap <= limits.maxGapMs)) return { ok: false, reason: 'timing' };
  }
  const span = times[times.length - 1]! - times[0]!;
  // The page cannot have filmed for longer than the challenge has existed.
  if (!(span >= limits.minDurationMs && span <= limits.maxDurationMs && span <= input.elapsedMs + 1_000)) return { ok: false, reason: 'timing' };

  // Every frame: exactly one face, big enough.
  for (const o of obs) {
    if (o.ok) continue;
    if (o.code === 'multiple_faces') return { ok: false, reason: 'multiple_faces' };
    if (o.code === 'face_too_small') return { ok: false, reason: 'face_too_small' };
    return { ok: false, reason: 'face_lost' };
  }
  const frames = obs as ReadonlyArray<Extract<Observation, { ok: true }>>;
  const poses = frames.map((f) => pose(f.landmarks));
  const yaw = poses.map((p) => p.yaw);

  // One person throughout: consecutive frames close, every frame close to the burst's median.
  const median = elementwiseMedian(frames.map((f) => f.descriptor));
  for (let i = 0; i < frames.length; i += 1) {
    if (distance(frames[i]!.descriptor, median) > limits.maxMedianDistance) return { ok: false, reason: 'identity_switch' };
    if (i > 0 && distance(frames[i]!.descriptor, frames[i - 1]!.descriptor) > limits.maxStepDistance) return { ok: false, reason: 'identity_switch' };
  }
  // One continuous scene: no change of light or surroundings that a moving head does not make.
  for (let i = 1; i < frames.length; i += 1) {
    const step = appearanceStep(frames[i - 1]!.appearance, frames[i]!.appearance);
    if (!(step.context >= limits.minContextCorrelation && step.brightness <= limits.maxBrightnessStep && step.chroma <= limits.maxChromaStep)) return { ok: false, reason: 'appearance_cut' };
  }
  // One continuous track: no cut, no jump a head cannot make between those capture times.
  for (let i = 1; i < poses.length; i += 1) {
    const a = poses[i - 1]!, b = poses[i]!;
    const dt = (times[i]! - times[i - 1]!) / 1000;
    const scale = (a.width + b.width) / 2;
    if (Math.hypot(b.cx - a.cx, b.cy - a.cy) / scale / dt > limits.maxSpeed) return { ok: false, reason: 'track_jump' };
    if (Math.abs(Math.log(b.width / a.width)) / dt > limits.maxScaleRate) return { ok: false, reason: 'track_jump' };
  }

  // The actions, in order: each turn reaches its side, after the previous turn's peak.
  const peaks: number[] = [];
  let from = 0;
  for (const action of input.actions) {
    const side = SIDE[action];
    if (!side) return { ok: false, reason: 'action_missing', action };
    const reached = findIndex(yaw, from, (v) => side * v >= limits.turnYaw);
    if (reached < 0) {
      // Did the user turn the other way instead?
      const other = findIndex(yaw, from, (v) => -side * v >= limits.turnYaw);
      return { ok: false, reason: other >= 0 && peaks.length === 0 ? 'wrong_order' : 'action_missing', action, trace: { yaw, peaks, parallax: 0 } };
    }
    // The peak of this turn: the extreme on this side before the yaw comes back past the centre.
    let peak = reached;
    for (let i = reached; i < yaw.length && side * yaw[i]! > 0; i += 1) if (side * yaw[i]! > side * yaw[peak]!) peak = i;
    peaks.push(peak);
    from = peak + 1;
  }
  // The first turn the user made must be the first one asked for (a recorded left-right-left
  // answers only the challenges that start on the left).
  const firstTurn = findIndex(yaw, 0, (v) => Math.abs(v) >= limits.turnYaw);
  if (firstTurn >= 0 && Math.sign(yaw[firstTurn]!) !== SIDE[input.actions[0]!]) return { ok: false, reason: 'wrong_order', trace: { yaw, peaks, parallax: 0 } };

  // No turn beyond those asked (a recording of more turns answers only its own sequence).
  if (countTurns(yaw, limits.turnYaw) > input.actions.length) return { ok: false, reason: 'wrong_order', trace: { yaw, peaks, parallax: 0 } };

  // Each turn is a movement, not a swap of pictures: a swing large enough between peaks, and
  // spread over several frames (a head sweeps through the poses in between).
  let previous = peaks[0]! > 0 ? argmin(yaw.slice(0, peaks[0]), (v) => SIDE[input.actions[0]!]! * v) : 0;
  for (let k = 0; k < peaks.length; k += 1) {
    const peak = peaks[k]!;
    const swing = Math.abs(yaw[peak]! - yaw[previous]!);
    if (k > 0 && swing < limits.minSwing) return { ok: false, reason: 'action_missing', action: input.actions[k], trace: { yaw, peaks, parallax: 0 } };
    let largest = 0;
    for (let i = Math.min(previous, peak) + 1; i <= Math.max(previous, peak); i += 1) largest = Math.max(largest, Math.abs(yaw[i]! - yaw[i - 1]!));
    if (swing > 0 && largest > limits.maxStepShare * swing && k > 0) return { ok: false, reason: 'jerky_turn', trace: { yaw, peaks, parallax: 0 } };
    previous = peak;
  }

  // 3D: the most frontal frame against each peak; a flat picture stays one homography.
  const frontal = argmin(yaw, (v) => Math.abs(v));
  let parallax = 0;
  for (const peak of peaks) parallax = Math.max(parallax, planarResidual(frames[frontal]!.landmarks, frames[peak]!.landmarks));
  const trace = { yaw, peaks, parallax };
  if (!(parallax >= limits.minParallax)) return { ok: false, reason: 'planar', trace };

  const keyFrames = yaw.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => a[0] - b[0]).slice(0, limits.keyFrames).map(([, i]) => i).sort((a, b) => a - b);
  return { ok: true, keyFrames, trace };
}

/**
 * How much the look changes between two frames (src/face/appearance.ts layout): the correlation
 * of the surroundings' grey grids (Pearson, so a camera's gain changes do not count), the log
 * ratio of the face centre's brightness, the distance of its chromaticity (r, g of r+g+b).
 */
export function appearanceStep(a: Float32Array, b: Float32Array): { context: number; brightness: number; chroma: number } {
  const n = a.length - 3;
  let ma = 0, mb = 0;
  for (let i = 3; i < a.length; i += 1) { ma += a[i]!; mb += b[i]!; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 3; i < a.length; i += 1) {
    const x = a[i]! - ma, y = b[i]! - mb;
    sab += x * y; saa += x * x; sbb += y * y;
  }
  const context = saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
  const sa = a[0]! + a[1]! + a[2]!, sb = b[0]! + b[1]! + b[2]!;
  const brightness = sa > 0 && sb > 0 ? Math.abs(Math.log(sb / sa)) : Number.POSITIVE_INFINITY;
  const chroma = sa > 0 && sb > 0 ? Math.hypot(a[0]! / sa - b[0]! / sb, a[1]! / sa - b[1]! / sb) : Number.POSITIVE_INFINITY;
  return { context, brightness, chroma };
}

/** Excursions beyond ±threshold, counting a new one each time the side changes. */
function countTurns(yaw: readonly number[], threshold: number): number {
  let turns = 0, side = 0;
  for (const v of yaw) {
    const now = v >= threshold ? 1 : v <= -threshold ? -1 : 0;
    if (now !== 0 && now !== side) { turns += 1; side = now; }
  }
  return turns;
}

function findIndex(values: readonly number[], from: number, test: (v: number) => boolean): number {
  for (let i = from; i < values.length; i += 1) if (test(values[i]!)) return i;
  return -1;
}

function argmin(values: readonly number[], key: (v: number) => number): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (key(values[i]!) < key(values[best]!)) best = i;
  return best;
}

function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

function elementwiseMedian(vectors: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0]!.length);
  const column = new Float64Array(vectors.length);
  for (let j = 0; j < out.length; j += 1) {
    for (let i = 0; i < vectors.length; i += 1) column[i] = vectors[i]![j]!;
    column.sort();
    const m = column.length >> 1;
    out[j] = column.length % 2 ? column[m]! : (column[m - 1]! + column[m]!) / 2;
  }
  return out;
}
