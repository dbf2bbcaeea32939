import { faceError, type FaceErrorCode } from './errors.ts';

/**
 * Several frames of one session -> one descriptor. A frame whose descriptor lies farther than
 * `agreeDistance` from the element-wise median of the OTHER frames is an outlier (another person
 * stepped in, motion blur, a bad landmark fit) and is dropped (leave-one-out, so that with two
 * frames the rule is simply "they must match each other"); the rest must number at least
 * `minFrames` and be a strict majority, else `frames_disagree`. The result is the mean of the consistent frames
 * (averaging several captures is the cheap accuracy gain of multi-image enrollment), re-normalised
 * to unit length when the inputs are.
 */
export interface ConsensusOptions {
  readonly agreeDistance: number;
  readonly minFrames: number;
  readonly normalise: boolean;
}

export type FrameOutcome = { ok: true; descriptor: Float32Array } | { ok: false; code: FaceErrorCode };

export interface ConsensusResult {
  readonly descriptor: Float32Array;
  /** Indices (into the frames) of the frames that were used. */
  readonly used: number[];
}

export function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

export function elementwiseMedian(vectors: readonly Float32Array[]): Float32Array {
  const dim = vectors[0]!.length;
  const out = new Float32Array(dim);
  const column = new Float64Array(vectors.length);
  for (let i = 0; i < dim; i += 1) {
    for (let k = 0; k < vectors.length; k += 1) column[k] = vectors[k]![i]!;
    column.sort();
    const mid = column.length >> 1;
    out[i] = column.length % 2 ? column[mid]! : (column[mid - 1]! + column[mid]!) / 2;
  }
  return out;
}

export function combineFrames(outcomes: readonly FrameOutcome[], options: ConsensusOptions): ConsensusResult {
  const good = outcomes.flatMap((o, i) => (o.ok ? [{ i, d: o.descriptor }] : []));
  if (good.length < options.minFrames) {
    // Not enough usable frames: report the most frequent refusal (ties: the first seen), so the
    // user gets actionable advice ("come closer", "only you in view") rather than a generic error.
    const counts = new Map<FaceErrorCode, number>();
    for (const o of outcomes) if (!o.ok) counts.set(o.code, (counts.get(o.code) ?? 0) + 1);
    let code: FaceErrorCode = 'frames_disagree';
    let best = 0;
    for (const [c, n] of counts) if (n > best) [code, best] = [c, n];
    throw faceError(code, good.length > 0 ? `${good.length} usable frame(s), ${options.minFrames} needed` : undefined);
  }
  const consistent = good.length === 1
    ? good
    : good.filter((g) => distance(g.d, elementwiseMedian(good.filter((o) => o !== g).map((o) => o.d))) <= options.agreeDistance);
  if (consistent.length < options.minFrames || consistent.length * 2 <= good.length) {
    throw faceError('frames_disagree', `${consistent.length} of ${good.length} frames agree`);
  }
  const dim = good[0]!.d.length;
  const mean = new Float32Array(dim);
  for (const { d } of consistent) for (let i = 0; i < dim; i += 1) mean[i]! += d[i]! / consistent.length;
  if (options.normalise) {
    let norm = 0;
    for (const x of mean) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < dim; i += 1) mean[i]! /= norm;
  }
  return { descriptor: mean, used: consistent.map((g) => g.i) };
}
