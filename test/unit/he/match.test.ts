import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainDecision, quantise, quantiseThreshold, quantisedDistanceSq } from '../../../src/he/index.ts';
import { createTestKeys, randomDescriptor, type TestKeys } from '../../../support/he-keys.ts';

let keys: TestKeys;
beforeAll(async () => {
  keys = await createTestKeys();
});
afterAll(() => keys?.close());

const D = 128;
const S = 64;
const element = Math.fround(0.17);
const descriptor = fc.float32Array({ minLength: D, maxLength: D, min: -element, max: element, noNaN: true, noDefaultInfinity: true });

/** A probe whose quantised squared distance to `template` is exactly `target` (greedy sum of squares). */
function probeAtDistance(template: Float32Array, target: number, order: number[]): Float32Array {
  const q = quantise(template);
  const out = Float32Array.from(q, (value) => value / S);
  let remaining = target;
  for (const index of order) {
    if (remaining === 0) break;
    const step = Math.floor(Math.sqrt(remaining));
    const sign = q[index]! > 0 ? -1 : 1; // towards the origin keeps the norm small
    out[index] = (q[index]! + sign * step) / S;
    remaining -= step * step;
  }
  expect(remaining).toBe(0);
  expect(quantisedDistanceSq(q, quantise(out))).toBe(target);
  return out;
}

describe('encrypted decision', () => {
  it('equals plainDecision on random descriptors, near and far', () => {
    fc.assert(
      fc.property(descriptor, descriptor, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.3, max: 1.2, noNaN: true }), (a, b, mix, threshold) => {
        const probe = b.map((value, i) => a[i]! + (value - a[i]!) * mix);
        const template = keys.engine.encryptTemplate(a);
        const blinded = keys.engine.matchAndBlind(template, probe, threshold);
        expect(keys.judge.judge(blinded)).toBe(plainDecision(a, probe, threshold));
      }),
      { numRuns: 200 },
    );
  });

  it('equals plainDecision exactly at the boundary: quantised distance tau-3 .. tau+3', () => {
    fc.assert(
      fc.property(descriptor, fc.double({ min: 0.25, max: 0.9, noNaN: true }), fc.integer({ min: -3, max: 3 }), fc.shuffledSubarray([...Array(D).keys()], { minLength: D, maxLength: D }), (a, threshold, offset, order) => {
        const tau = quantiseThreshold(threshold);
        const probe = probeAtDistance(a, tau + offset, order);
        const template = keys.engine.encryptTemplate(a);
        const expected = tau + offset < tau;
        expect(plainDecision(a, probe, threshold)).toBe(expected);
        expect(keys.judge.judge(keys.engine.matchAndBlind(template, probe, threshold))).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('handles the extremes of the range: identical vectors and opposite maximal-norm vectors', () => {
    const a = randomDescriptor(D, Math.random, 0.18, 1.97);
    const opposite = a.map((value) => -value); // distance 3.94
    const template = keys.engine.encryptTemplate(a);
    expect(keys.judge.judge(keys.engine.matchAndBlind(template, a, 0.01))).toBe(true);
    expect(keys.judge.judge(keys.engine.matchAndBlind(template, opposite, 3.8))).toBe(false);
    expect(keys.judge.judge(keys.engine.matchAndBlind(template, opposite, 4))).toBe(true);
    for (const threshold of [3.9, 3.93, 3.94, 3.95, 3.96]) {
      expect(keys.judge.judge(keys.engine.matchAndBlind(template, opposite, threshold))).toBe(plainDecision(a, opposite, threshold));
    }
  });
});

describe('blinding', () => {
  const t = 2 ** 24;

  it('coefficient 0 is r (tau - 1 - d) + e with 1 <= r <= rMax, 0 <= e < r, never the distance', () => {
    const a = randomDescriptor(D, Math.random, 0.18, 1);
    const b = a.map((value, i) => value + (i % 3 === 0 ? 0.03 : -0.02));
    const threshold = 0.5; // tau = 1046: tau - 1 is odd, so tau - 1 - d = d is impossible
    const tau = quantiseThreshold(threshold);
    const d = quantisedDistanceSq(quantise(a), quantise(b));
    const k = tau - 1 - d;
    expect(k).not.toBe(0);
    const template = keys.engine.encryptTemplate(a);
    const seen = new Set<number>();
    for (let run = 0; run < 200; run += 1) {
      const c0 = keys.inspect(keys.engine.matchAndBlind(template, b, threshold)).coefficients[0]!;
      expect(c0).not.toBe(d);
      expect(c0 >= 0).toBe(d < tau);
      // Some r in [1, rMax] with r k <= c0 < r k + r.
      const r = k > 0 ? Math.floor(c0 / k) : Math.ceil(c0 / k);
      const fits = [r - 1, r, r + 1].some((candidate) => candidate >= 1 && candidate <= keys.params.blindingMax && c0 - candidate * k >= 0 && c0 - candidate * k < candidate);
      expect(fits).toBe(true);
      seen.add(c0);
    }
    expect(seen.size).toBeGreaterThan(150);
  });

  it('every other coefficient is uniform mod t (chi-square over 64 bins)', () => {
    const a = randomDescriptor(D, Math.random, 0.18, 1);
    const template = keys.engine.encryptTemplate(a);
    const bins = new Array<number>(64).fill(0);
    let samples = 0;
    let sum = 0;
    for (let run = 0; run < 20; run += 1) {
      const { coefficients } = keys.inspect(keys.engine.matchAndBlind(template, a, 0.5));
      for (let j = 1; j < coefficients.length; j += 1) {
        const value = (coefficients[j]! + t) % t;
        bins[Math.floor((value / t) * 64)]! += 1;
        sum += value / t;
        samples += 1;
      }
    }
    const expected = samples / 64;
    const chiSquare = bins.reduce((acc, count) => acc + (count - expected) ** 2 / expected, 0);
    // 63 degrees of freedom: mean 63, sd 11.2; P(chi2 > 160) < 1e-9. Unmasked cross terms would
    // pile up around 0 and give a chi-square in the hundreds of thousands.
    expect(chiSquare).toBeLessThan(160);
    expect(Math.abs(sum / samples - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / samples));
  });

  it('two blindings of the same match differ in every coefficient view and in bytes', () => {
    const a = randomDescriptor(D, Math.random, 0.18, 1);
    const template = keys.engine.encryptTemplate(a);
    const first = keys.engine.matchAndBlind(template, a, 0.5);
    const second = keys.engine.matchAndBlind(template, a, 0.5);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    const x = keys.inspect(first).coefficients;
    const y = keys.inspect(second).coefficients;
    const same = x.filter((value, i) => value === y[i]).length;
    expect(same).toBeLessThan(5);
    expect(keys.judge.judge(first)).toBe(true);
    expect(keys.judge.judge(second)).toBe(true);
  });
});

describe('noise budget and sizes', () => {
  it('leaves >= 3 bits of invariant noise budget on worst-case (maximal-norm) descriptors', () => {
    // Measured: 4 bits at r = rMax with |t| = |p| = maxNorm; 5-6 bits for norm-1 descriptors.
    let worst = Number.POSITIVE_INFINITY;
    let typical = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 40; run += 1) {
      // Norm 1.97 before rounding: the largest that stays within maxNorm = 2 once quantised.
      const a = randomDescriptor(D, Math.random, 0.18, 1.97);
      const far = randomDescriptor(D, Math.random, 0.18, 1.97);
      worst = Math.min(worst, keys.inspect(keys.engine.matchAndBlind(keys.engine.encryptTemplate(a), far, 0.5)).budgetBits);
      const b = randomDescriptor(D, Math.random, 0.18, 1);
      typical = Math.min(typical, keys.inspect(keys.engine.matchAndBlind(keys.engine.encryptTemplate(b), b, 0.5)).budgetBits);
    }
    expect(worst).toBeGreaterThanOrEqual(3);
    expect(typical).toBeGreaterThanOrEqual(4);
  });

  it('stores a template in <= 32 KB', () => {
    for (let run = 0; run < 20; run += 1) {
      expect(keys.engine.encryptTemplate(randomDescriptor(D)).byteLength).toBeLessThanOrEqual(32 * 1024);
    }
  });
});
