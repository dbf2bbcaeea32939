import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../../bench/accuracy/dataset.ts';
import { probeFusion } from '../../../bench/accuracy/fusion.ts';
import type { Outcome } from '../../../bench/accuracy/metrics.ts';
import { distance } from '../../../src/face/research.ts';
import { gated, qualitySweep } from '../../../bench/accuracy/quality.ts';

// The quality-gate sweep and the multi-image probe of bench/accuracy.ts on a data set whose
// answers are known by construction.

/** A unit vector along axis `a`, nudged by `e` along axis `b` (then normalised). */
function vec(a: number, b = 0, e = 0): Float32Array {
  const v = new Float32Array(128);
  v[a] = 1;
  v[b]! += e;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Identities 0..n-1, each with `per` images: image j of identity i is axis i nudged along axis 100 + j. */
function dataset(n: number, per: number): { ds: Dataset; outcomes: Outcome[] } {
  const ds: Dataset = { keys: [], files: [], identity: [], genuine: [], listedImpostors: [], pairsSource: 'synthetic' };
  const outcomes: Outcome[] = [];
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < per; j += 1) {
      ds.keys.push(`id${i}/${j}`);
      ds.files.push('');
      ds.identity.push(`id${i}`);
      outcomes.push(vec(i, 100 + j, 0.1));
    }
    ds.genuine.push([i * per, i * per + 1]);
  }
  return { ds, outcomes };
}

describe('accuracy benchmark: quality gate sweep', () => {
  it('refuses what the rule refuses, as a failure to acquire, and splits the genuine pairs by it', () => {
    const { ds, outcomes } = dataset(4, 5);
    const quality = outcomes.map((_, i) => ({ yaw: i === 0 ? 0.6 : 0, sharpness: i === 5 ? 0.01 : 0.3 }));
    const rule = { maxYaw: 0.4, minSharpness: 0.09 };
    const out = gated(outcomes, quality, rule);
    expect(out[0]).toBe('face_turned');
    expect(out[5]).toBe('face_blurred');
    expect(out.filter((o) => typeof o === 'string')).toHaveLength(2);
    const [off, on] = qualitySweep(ds, outcomes, quality, [{ label: 'off', rule: { maxYaw: Infinity, minSharpness: 0 } }, { label: 'on', rule }], { k: 3, threshold: 0.3, normalise: true, cap: 1e6, seed: 1 });
    expect(off!.refused).toEqual({ turned: 0, blurred: 0, of: 20 });
    expect(on!.refused).toEqual({ turned: 1, blurred: 1, of: 20 });
    // Genuine pairs (0,1) and (5,6) have a refused image; the other two are kept. All match at 0.3.
    expect(on!.frrRefusedPairs).toEqual({ pairs: 2, frr: 0 });
    expect(on!.frrKeptPairs).toEqual({ pairs: 2, frr: 0 });
    expect(on!.single.frr).toBe(0.5); // the two refused pairs count as rejects
    expect(on!.template!.failedToEnroll).toBe(2); // a refused image among a template's first 3
  });
});

describe('accuracy benchmark: multi-image probe', () => {
  it('compares one photo with the consensus of M photos on the same templates, and counts every impostor probe', () => {
    const { ds, outcomes } = dataset(5, 6);
    outcomes[2] = 'no_face'; // identity 0 cannot enrol from its first 3 images
    const result = probeFusion(ds, outcomes, { k: 3, m: 2, threshold: 0.3, normalise: true, measure: distance })!;
    expect(result.identities).toBe(5);
    expect(result.failedToEnroll).toBe(1);
    expect(result.single.genuineAttempts).toBe(10);
    expect(result.fused.genuineAttempts).toBe(5);
    expect(result.fused.frr).toBeCloseTo(0.2, 6); // identity 0's failed enrollment
    expect(result.fused.frrAcquired).toBe(0);
    // 4 templates; impostor probes: every acquired photo (29) or every pair of them per identity
    // (15 pairs for 6 photos, 10 for identity 0's 5), minus the template's own identity.
    expect(result.single.impostorPairs).toBe(4 * 29 - 4 * 6);
    expect(result.fused.impostorPairs).toBe(4 * (10 + 4 * 15) - 4 * 15);
    expect(result.fused.far).toBe(0);
  });
});
