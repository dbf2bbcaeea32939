import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HE_PARAMS, HE_PARAM_SETS, getHeParams, plainDecision, quantisationMargin, quantise, quantiseThreshold, quantisedDistanceSq,
} from '../../../src/he/index.ts';

const D = DEFAULT_HE_PARAMS.dimension;
const element = Math.fround(0.17); // |x| <= 0.17 * sqrt(128) < 2 = maxNorm
const descriptor = fc.float32Array({ minLength: D, maxLength: D, min: -element, max: element, noNaN: true, noDefaultInfinity: true });

describe('parameter sets', () => {
  it('keep the blinded value inside (-t/2, t/2) and the ring large enough', () => {
    for (const params of Object.values(HE_PARAM_SETS)) {
      expect(params.dimension + 1).toBeLessThanOrEqual(params.polyModulusDegree);
      expect(params.blindingMax * params.maxDistanceSq).toBeLessThanOrEqual(params.plainModulus / 2);
      expect(params.blindingMax).toBeGreaterThanOrEqual(64);
      // HomomorphicEncryption.org standard, 128-bit classical: N = 2048 -> log q <= 54.
      if (params.polyModulusDegree === 2048) expect(params.coeffModulusBits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(54);
    }
    expect(DEFAULT_HE_PARAMS.version).toBe('bgv-2048-v1');
    expect(DEFAULT_HE_PARAMS.blindingMax).toBe(128);
  });

  it('refuses unknown versions with a typed error', () => {
    expect(() => getHeParams('bgv-2048-v0')).toThrow(expect.objectContaining({ code: 'he_params_unknown' }));
    expect(() => getHeParams('__proto__')).toThrow(expect.objectContaining({ code: 'he_params_unknown' }));
  });
});

describe('quantise', () => {
  it('rounds x * s and refuses bad descriptors', () => {
    const v = new Float32Array(D);
    v[0] = 0.5;
    v[1] = -0.25;
    v[2] = 1 / 128; // 0.5 after scaling: Math.round rounds half up
    expect(Array.from(quantise(v).subarray(0, 3))).toEqual([32, -16, 1]);
    expect(() => quantise(new Float32Array(D - 1))).toThrow(expect.objectContaining({ code: 'he_bad_descriptor' }));
    const nan = new Float32Array(D);
    nan[5] = Number.NaN;
    expect(() => quantise(nan)).toThrow(expect.objectContaining({ code: 'he_bad_descriptor' }));
    const long = new Float32Array(D).fill(0.2); // norm 2.26 > 2
    expect(() => quantise(long)).toThrow(expect.objectContaining({ code: 'he_bad_descriptor' }));
  });

  it('maps a threshold to tau = ceil((threshold s)^2 + D/6) (rounding bias) and refuses out-of-range thresholds', () => {
    expect(quantiseThreshold(0.5)).toBe(Math.ceil(1024 + 128 / 6));
    expect(quantiseThreshold(0.6)).toBe(Math.ceil((0.6 * 64) ** 2 + 128 / 6));
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 4.01]) {
      expect(() => quantiseThreshold(bad)).toThrow(expect.objectContaining({ code: 'he_bad_threshold' }));
    }
  });

  it('states the quantisation margin: sqrt(D)/s plus the threshold shift (bias term and rounding)', () => {
    const margin = quantisationMargin(0.5);
    expect(margin).toBeCloseTo(Math.sqrt(128) / 64 + (128 / 6 + 1) / (2 * 0.5 * 64 * 64), 12);
    expect(margin).toBeLessThan(0.183);
  });

  it('is unbiased: over many pairs near the threshold the quantised decision errs both ways about equally', () => {
    let random = 7;
    const next = () => ((random = (random * 48271) % 2147483647) / 2147483647);
    let tooStrict = 0;
    let tooLax = 0;
    for (let i = 0; i < 4000; i += 1) {
      const a = Float32Array.from({ length: D }, () => (next() - 0.5) * 0.2);
      const direction = Float32Array.from({ length: D }, () => next() - 0.5);
      const length = Math.hypot(...direction);
      const target = 0.35 + (next() - 0.5) * 0.02;
      const probe = a.map((value, j) => value + (direction[j]! / length) * target);
      const floatMatch = Math.hypot(...a.map((value, j) => value - probe[j]!)) < 0.35;
      const quantisedMatch = plainDecision(a, probe, 0.35);
      if (floatMatch && !quantisedMatch) tooStrict += 1;
      if (!floatMatch && quantisedMatch) tooLax += 1;
    }
    // Without the D/6 term nearly every disagreement was a wrongly rejected genuine pair.
    expect(tooStrict + tooLax).toBeGreaterThan(50);
    expect(tooStrict / (tooStrict + tooLax)).toBeGreaterThan(0.3);
    expect(tooStrict / (tooStrict + tooLax)).toBeLessThan(0.7);
  });

  it('agrees with the float decision whenever the float distance is outside the margin', () => {
    fc.assert(
      fc.property(descriptor, descriptor, fc.double({ min: 0.2, max: 1.8, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (a, b, threshold, mix) => {
        // Pull b towards a so that both sides of the threshold are exercised.
        const probe = b.map((value, i) => a[i]! + (value - a[i]!) * mix);
        const floatDistance = Math.hypot(...a.map((value, i) => value - probe[i]!));
        const margin = quantisationMargin(threshold);
        fc.pre(Math.abs(floatDistance - threshold) >= margin);
        expect(plainDecision(a, probe, threshold)).toBe(floatDistance < threshold);
      }),
      { numRuns: 500 },
    );
  });

  it('decides on the quantised squared distance with a strict inequality', () => {
    const a = new Float32Array(D);
    const b = new Float32Array(D);
    // tau(0.5) = ceil(32^2 + 128/6) = 1046 = 31^2 + 9^2 + 2^2
    [b[0], b[1], b[2]] = [31 / 64, 9 / 64, 2 / 64];
    expect(quantiseThreshold(0.5)).toBe(1046);
    expect(quantisedDistanceSq(quantise(a), quantise(b))).toBe(1046);
    expect(plainDecision(a, b, 0.5)).toBe(false);
    // The smallest threshold whose tau is 1047.
    expect(plainDecision(a, b, Math.sqrt(1025) / 64)).toBe(true);
  });
});
