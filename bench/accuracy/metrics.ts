/** Pure metrics of the accuracy benchmark: distances, thresholds at a FAR, FRR/FAR, enrollment. */
import { combineFrames, DEFAULT_CONSENSUS_LIMITS, distance, isFaceErrorCode, type FrameOutcome } from '../../src/face/research.ts';
import { DEFAULT_HE_PARAMS, quantise, quantisedDistanceSq } from '../../src/he/index.ts';
import { rng, type Dataset } from './dataset.ts';

/** The false-accept rates every report gives FRR at (NIST SP 800-63B-4: at most 1e-4). */
export const FAR_LEVELS = [1e-2, 1e-3, 1e-4] as const;

// ---------------------------------------------------------------------------------------------
// Metrics

export type Outcome = Float32Array | string; // descriptor, or the refusal code

/** Cross-identity distances among acquired images: all pairs, or `cap` sampled pairs. */
export function impostorDistances(ds: Dataset, outcomes: Outcome[], cap: number, seed: number): Float32Array {
  const acquired = outcomes.flatMap((o, i) => (typeof o === 'string' ? [] : [i]));
  const n = acquired.length;
  const totalPairs = (n * (n - 1)) / 2;
  const out: number[] = [];
  for (const [i, j] of ds.listedImpostors) {
    const a = outcomes[i]!, b = outcomes[j]!;
    if (typeof a !== 'string' && typeof b !== 'string') out.push(distance(a, b));
  }
  if (totalPairs <= cap) {
    for (let x = 0; x < n; x += 1) {
      const i = acquired[x]!;
      const a = outcomes[i] as Float32Array;
      for (let y = x + 1; y < n; y += 1) {
        const j = acquired[y]!;
        if (ds.identity[i] !== ds.identity[j]) out.push(distance(a, outcomes[j] as Float32Array));
      }
    }
  } else {
    const random = rng(seed);
    while (out.length < cap) {
      const i = acquired[Math.floor(random() * n)]!, j = acquired[Math.floor(random() * n)]!;
      if (ds.identity[i] !== ds.identity[j]) out.push(distance(outcomes[i] as Float32Array, outcomes[j] as Float32Array));
    }
  }
  return Float32Array.from(out).sort();
}

/** Largest threshold t such that at most a fraction `far` of impostors have distance < t. */
export function thresholdAtFar(sortedImpostors: Float32Array, far: number): number {
  const k = Math.floor(far * sortedImpostors.length);
  return sortedImpostors[Math.min(k, sortedImpostors.length - 1)]!;
}

export const countBelow = (sorted: Float32Array, t: number) => {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

export interface Verification {
  genuineAttempts: number;
  genuineAcquired: number;
  impostorPairs: number;
  threshold: number;
  frr: number; // failures to acquire counted as rejects
  frrAcquired: number;
  far: number;
  atFar: { far: number; threshold: number; tar: number; tarAcquired: number }[];
}

export function verification(genuine: number[], impostors: Float32Array, threshold: number): Verification {
  // NaN = a failure to acquire one of the two images: a false reject.
  const acquired = genuine.filter((d) => !Number.isNaN(d));
  const tarAt = (t: number) => acquired.filter((d) => d < t).length;
  return {
    genuineAttempts: genuine.length,
    genuineAcquired: acquired.length,
    impostorPairs: impostors.length,
    threshold,
    frr: 1 - tarAt(threshold) / genuine.length,
    frrAcquired: 1 - tarAt(threshold) / acquired.length,
    far: countBelow(impostors, threshold) / impostors.length,
    atFar: FAR_LEVELS.map((far) => {
      const t = thresholdAtFar(impostors, far);
      return { far, threshold: t, tar: tarAt(t) / genuine.length, tarAcquired: tarAt(t) / acquired.length };
    }),
  };
}

export function genuineDistances(pairs: [number, number][], outcomes: Outcome[]): number[] {
  return pairs.map(([i, j]) => {
    const a = outcomes[i]!, b = outcomes[j]!;
    return typeof a === 'string' || typeof b === 'string' ? Number.NaN : distance(a, b);
  });
}

/** A distance between two descriptors: the float one, or what the encrypted decision sees. */
export type Measure = (a: Float32Array, b: Float32Array) => number;

/**
 * The encrypted decision's distance: the encrypted match decides quantised d^2 < ceil((t s)^2 +
 * D/6) (src/he/quantise.ts), which for an integer d^2 is exactly sqrt(d^2 - D/6) / s < t. So FAR
 * and FRR of the encrypted path at any threshold t are counts of this value below t, and a
 * threshold read off its impostor distribution holds for the encrypted decision itself
 * (bench/accuracy.ts checks it against plainDecision). Quantised descriptors are cached per array.
 */
export function quantisedMeasure(): Measure {
  const { scale, dimension } = DEFAULT_HE_PARAMS;
  const cache = new WeakMap<Float32Array, Int32Array>();
  const q = (x: Float32Array) => {
    let v = cache.get(x);
    if (!v) cache.set(x, (v = quantise(x)));
    return v;
  };
  return (a, b) => Math.sqrt(Math.max(0, quantisedDistanceSq(q(a), q(b)) - dimension / 6)) / scale;
}

/**
 * One-sided Clopper-Pearson upper bound on a rate seen as k events in n trials (exact binomial:
 * the p at which P(X <= k) = 1 - confidence). Treats the trials as independent; impostor
 * comparisons that share templates or probes are not, so it understates the uncertainty
 * (bench/accuracy.ts reports the identities behind them).
 */
export function upperBound(k: number, n: number, confidence = 0.95): number {
  if (n <= 0) return 1;
  const logCdf = (p: number) => {
    // log P(X <= k) by summing the terms in log space (k is small: hundreds at most here).
    let term = n * Math.log1p(-p), sum = term;
    for (let i = 1; i <= k; i += 1) {
      term += Math.log((n - i + 1) / i) + Math.log(p) - Math.log1p(-p);
      sum = Math.max(sum, term) + Math.log1p(Math.exp(-Math.abs(sum - term)));
    }
    return sum;
  };
  const target = Math.log(1 - confidence);
  let lo = k / n, hi = 1;
  for (let it = 0; it < 200; it += 1) {
    const mid = (lo + hi) / 2;
    if (logCdf(mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The largest threshold whose impostor rate stays at most `far`, by the point estimate and by
 * its 95% upper bound (a threshold t accepts the impostors with distance < t). The bound is
 * undefined when even no accepted impostor cannot show it (n below about 3 / far).
 */
export function thresholdsForFar(sortedImpostors: Float32Array, far: number): { point: { threshold: number; accepted: number }; bound: { threshold: number; accepted: number } | undefined } {
  const n = sortedImpostors.length;
  const point = Math.min(Math.floor(far * n), n - 1);
  let k = point;
  while (k > 0 && upperBound(k, n) > far) k -= 1;
  const bound = upperBound(k, n) <= far ? { threshold: sortedImpostors[k]!, accepted: k } : undefined;
  return { point: { threshold: sortedImpostors[point]!, accepted: point }, bound };
}

export interface EnrollmentResult {
  k: number;
  identities: number;
  failedToEnroll: number;
  verification: Verification;
  /** The distances behind `verification` (NaN genuine = failed to enroll or acquire); not for --json. */
  distances: { genuine: number[]; impostors: Float32Array };
}

/** The consensus rule (engine.enroll / engine.probe) on these images' outcomes, or undefined when it refuses. */
export function consensusOf(outcomes: readonly Outcome[], images: readonly number[], options: { minFrames: number; normalise: boolean; agreeDistance?: number }): Float32Array | undefined {
  const frames: FrameOutcome[] = images.map((i) => {
    const o = outcomes[i]!;
    return typeof o === 'string' ? { ok: false, code: isFaceErrorCode(o) ? o : 'no_face' } : { ok: true, descriptor: o };
  });
  try {
    return combineFrames(frames, { agreeDistance: options.agreeDistance ?? DEFAULT_CONSENSUS_LIMITS.agreeDistance, minFrames: options.minFrames, normalise: options.normalise }).descriptor;
  } catch {
    return undefined;
  }
}

/**
 * Template = enroll() of the first K images of an identity (same consensus code), probes = the
 * others. `agreeDistance` is the consensus rule's outlier distance (default: production's, which
 * is on the 128-d descriptor's scale; other descriptors need theirs, see bench/accuracy.ts).
 */
export function enrollment(ds: Dataset, outcomes: Outcome[], k: number, threshold: number, normalise: boolean, cap: number, seed: number, agreeDistance = DEFAULT_CONSENSUS_LIMITS.agreeDistance, measure: Measure = distance): EnrollmentResult | null {
  const byId = new Map<string, number[]>();
  ds.identity.forEach((id, i) => byId.set(id, [...(byId.get(id) ?? []), i]));
  const templates: { id: string; t: Float32Array }[] = [];
  const genuine: number[] = [];
  let identities = 0, failed = 0;
  for (const [id, images] of byId) {
    if (images.length < k + 1) continue;
    identities += 1;
    const template = consensusOf(outcomes, images.slice(0, k), { agreeDistance, minFrames: Math.min(k, DEFAULT_CONSENSUS_LIMITS.minEnrollFrames), normalise });
    if (!template) {
      failed += 1;
      for (const _ of images.slice(k)) genuine.push(Number.NaN);
      continue;
    }
    templates.push({ id, t: template });
    for (const i of images.slice(k)) {
      const o = outcomes[i]!;
      genuine.push(typeof o === 'string' ? Number.NaN : measure(template, o));
    }
  }
  if (identities === 0) return null;
  const probes = outcomes.flatMap((o, i) => (typeof o === 'string' ? [] : [i]));
  const imp: number[] = [];
  const total = templates.length * probes.length;
  if (total <= cap) {
    for (const { id, t } of templates) for (const i of probes) if (ds.identity[i] !== id) imp.push(measure(t, outcomes[i] as Float32Array));
  } else {
    const random = rng(seed + 1);
    while (imp.length < cap) {
      const { id, t } = templates[Math.floor(random() * templates.length)]!;
      const i = probes[Math.floor(random() * probes.length)]!;
      if (ds.identity[i] !== id) imp.push(measure(t, outcomes[i] as Float32Array));
    }
  }
  const impostors = Float32Array.from(imp).sort();
  return { k, identities, failedToEnroll: failed, verification: verification(genuine, impostors, threshold), distances: { genuine, impostors } };
}
