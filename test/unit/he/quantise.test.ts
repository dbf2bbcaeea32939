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

  it('maps a threshold to tau = ceil((threshold s)^2) and refuses out-of-range thresholds', () => {
    expect(quantiseThreshold(0.5)).toBe(1024);
    expect(quantiseThreshold(0.6)).toBe(Math.ceil((0.6 * 64) ** 2));
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 4.01]) {
      expect(() => quantiseThreshold(bad)).toThrow(expect.objectContaining({ code: 'he_bad_threshold' }));
    }
  });

  it('states the quantisation margin: sqrt(D)/s plus the threshold rounding', () => {
    const margin = quantisationMargin(0.5);
    expect(margin).toBeCloseTo(Math.sqrt(128) / 64 + 1 / (2 * 0.5 * 64 * 64), 12);
    expect(margin).toBeLessThan(0.178);
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
    b[0] = 0.5; // quantised distance^2 = 32^2 = 1024 = tau(0.5)
    expect(quantisedDistanceSq(quantise(a), quantise(b))).toBe(1024);
    expect(plainDecision(a, b, 0.5)).toBe(false);
    expect(plainDecision(a, b, 0.5 + 1 / 64 / 64)).toBe(true);
  });
});
