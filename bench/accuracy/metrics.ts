/** Pure metrics of the accuracy benchmark: distances, thresholds at a FAR, FRR/FAR, enrollment. */
import { combineFrames, DEFAULT_CONSENSUS_LIMITS, distance, isFaceErrorCode, type FrameOutcome } from '../../src/face/research.ts';
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

export interface EnrollmentResult {
  k: number;
  identities: number;
  failedToEnroll: number;
  verification: Verification;
}

/**
 * Template = enroll() of the first K images of an identity (same consensus code), probes = the
 * others. `agreeDistance` is the consensus rule's outlier distance (default: production's, which
 * is on the 128-d descriptor's scale; other descriptors need theirs, see bench/accuracy.ts).
 */
export function enrollment(ds: Dataset, outcomes: Outcome[], k: number, threshold: number, normalise: boolean, cap: number, seed: number, agreeDistance = DEFAULT_CONSENSUS_LIMITS.agreeDistance): EnrollmentResult | null {
  const byId = new Map<string, number[]>();
  ds.identity.forEach((id, i) => byId.set(id, [...(byId.get(id) ?? []), i]));
  const templates: { id: string; t: Float32Array }[] = [];
  const genuine: number[] = [];
  let identities = 0, failed = 0;
  for (const [id, images] of byId) {
    if (images.length < k + 1) continue;
    identities += 1;
    const frames: FrameOutcome[] = images.slice(0, k).map((i) => {
      const o = outcomes[i]!;
      return typeof o === 'string' ? { ok: false, code: isFaceErrorCode(o) ? o : 'no_face' } : { ok: true, descriptor: o };
    });
    let template: Float32Array;
    try {
      template = combineFrames(frames, { agreeDistance, minFrames: Math.min(k, DEFAULT_CONSENSUS_LIMITS.minEnrollFrames), normalise }).descriptor;
    } catch {
      failed += 1;
      for (const _ of images.slice(k)) genuine.push(Number.NaN);
      continue;
    }
    templates.push({ id, t: template });
    for (const i of images.slice(k)) {
      const o = outcomes[i]!;
      genuine.push(typeof o === 'string' ? Number.NaN : distance(template, o));
    }
  }
  if (identities === 0) return null;
  const probes = outcomes.flatMap((o, i) => (typeof o === 'string' ? [] : [i]));
  const imp: number[] = [];
  const total = templates.length * probes.length;
  if (total <= cap) {
    for (const { id, t } of templates) for (const i of probes) if (ds.identity[i] !== id) imp.push(distance(t, outcomes[i] as Float32Array));
  } else {
    const random = rng(seed + 1);
    while (imp.length < cap) {
      const { id, t } = templates[Math.floor(random() * templates.length)]!;
      const i = probes[Math.floor(random() * probes.length)]!;
      if (ds.identity[i] !== id) imp.push(distance(t, outcomes[i] as Float32Array));
    }
  }
  return { k, identities, failedToEnroll: failed, verification: verification(genuine, Float32Array.from(imp).sort(), threshold) };
}
