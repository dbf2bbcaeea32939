import { describe, expect, it } from 'vitest';
import { quantisedMeasure, thresholdsForFar, upperBound } from '../../../bench/accuracy/metrics.ts';
import { plainDecision } from '../../../src/he/index.ts';

// The figures the README's match threshold rests on (bench/accuracy.ts), checked against known values.
describe('accuracy benchmark metrics', () => {
  it('gives the one-sided 95% Clopper-Pearson upper bound', () => {
    expect(upperBound(0, 1000)).toBeCloseTo(1 - 0.05 ** (1 / 1000), 6); // exact for k = 0 (about 3 / n)
    expect(upperBound(5, 100)).toBeCloseTo(0.1023, 3); // tabulated
    expect(upperBound(10, 1000)).toBeCloseTo(0.0169, 3);
    expect(upperBound(210, 2_100_000)).toBeGreaterThan(1e-4); // a point estimate of 1e-4 does not show 1e-4
  });

  it('reads the thresholds for a FAR off the impostor distances, and no bound where n cannot show it', () => {
    const impostors = Float32Array.from({ length: 2_100_000 }, (_, i) => i / 2_100_000);
    const { point, bound } = thresholdsForFar(impostors, 1e-4);
    expect(point.accepted).toBe(210);
    expect(bound!.accepted).toBeLessThan(210);
    expect(upperBound(bound!.accepted, impostors.length)).toBeLessThanOrEqual(1e-4);
    expect(upperBound(bound!.accepted + 1, impostors.length)).toBeGreaterThan(1e-4);
    expect(thresholdsForFar(impostors.subarray(0, 20_000), 1e-4).bound).toBeUndefined();
  });

  it('decides with the quantised measure exactly as the encrypted path (plainDecision) does', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    const unit = () => {
      const v = Float32Array.from({ length: 128 }, random);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    const measure = quantisedMeasure();
    const base = unit();
    let near = 0;
    for (let i = 0; i < 400; i += 1) {
      // Probes around the thresholds: the base moved a little towards another unit vector.
      const other = unit(), w = 0.1 + 0.002 * i;
      const probe = base.map((x, j) => x * (1 - w) + other[j]! * w);
      for (const t of [0.3, 0.35]) {
        if (Math.abs(measure(base, probe) - t) < 0.01) near += 1;
        expect(measure(base, probe) < t).toBe(plainDecision(base, probe, t));
      }
    }
    expect(near).toBeGreaterThanOrEqual(5);
  });
});
