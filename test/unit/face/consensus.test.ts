import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineFrames, distance, elementwiseMedian, type FrameOutcome } from '../../../src/face/consensus.ts';
import { chipTransform, fitSimilarity, type Point } from '../../../src/face/align.ts';
import { errorCode } from '../../../support/errors.ts';

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};
const jitter = (base: Float32Array, seed: number, amount: number) => {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  return unit(Array.from(base, (x) => x + amount * rnd()));
};
const ok = (descriptor: Float32Array): FrameOutcome => ({ ok: true, descriptor });
const options = { agreeDistance: 0.4, minFrames: 3, normalise: true };

describe('combineFrames (enroll/probe consistency rule)', () => {
  const alice = unit(Array.from({ length: 128 }, (_, i) => Math.sin(i + 1)));
  const bob = unit(Array.from({ length: 128 }, (_, i) => Math.cos(3 * i + 2)));

  it('averages consistent frames into a unit-length template', () => {
    const frames = [1, 2, 3, 4].map((s) => ok(jitter(alice, s, 0.05)));
    const { descriptor, used } = combineFrames(frames, options);
    expect(used).toEqual([0, 1, 2, 3]);
    expect(Math.hypot(...descriptor)).toBeCloseTo(1, 5);
    expect(distance(descriptor, alice)).toBeLessThan(0.12);
  });

  it('drops a frame of another person and keeps the rest', () => {
    const frames = [ok(jitter(alice, 1, 0.05)), ok(jitter(alice, 2, 0.05)), ok(bob), ok(jitter(alice, 3, 0.05))];
    const { used, descriptor } = combineFrames(frames, options);
    expect(used).toEqual([0, 1, 3]);
    expect(distance(descriptor, alice)).toBeLessThan(0.12);
  });

  it('refuses with frames_disagree when too few frames agree', () => {
    const frames = [ok(jitter(alice, 1, 0.05)), ok(jitter(alice, 2, 0.05)), ok(bob)];
    expect(errorCode(() => combineFrames(frames, options))).toBe('frames_disagree');
    // Two people half and half: no majority, whatever the minimum.
    const split = [ok(alice), ok(jitter(alice, 5, 0.05)), ok(bob), ok(jitter(bob, 6, 0.05))];
    expect(errorCode(() => combineFrames(split, { ...options, minFrames: 1 }))).toBe('frames_disagree');
  });

  it('reports the most frequent refusal when too few frames hold a usable face', () => {
    const frames: FrameOutcome[] = [ok(alice), { ok: false, code: 'face_too_small' }, { ok: false, code: 'face_too_small' }, { ok: false, code: 'no_face' }];
    expect(errorCode(() => combineFrames(frames, options))).toBe('face_too_small');
    expect(errorCode(() => combineFrames([{ ok: false, code: 'multiple_faces' }], { ...options, minFrames: 1 }))).toBe('multiple_faces');
  });

  it('a single probe frame is its own consensus', () => {
    const { descriptor } = combineFrames([ok(alice)], { ...options, minFrames: 1 });
    expect(distance(descriptor, alice)).toBeLessThan(1e-6);
  });

  it('the element-wise median ignores one arbitrary outlier among three', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }), (outlier) => {
        const m = elementwiseMedian([alice.subarray(0, 8), alice.subarray(0, 8), Float32Array.from(outlier)]);
        expect(distance(m, alice.subarray(0, 8))).toBe(0);
      }),
    );
  });
});

describe('dlib chip alignment', () => {
  it('fits a similarity transform exactly when one exists', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
        fc.double({ min: 0.2, max: 5, noNaN: true }),
        fc.double({ min: -500, max: 500, noNaN: true }),
        fc.double({ min: -500, max: 500, noNaN: true }),
        (angle, scale, tx, ty) => {
          const from: Point[] = [[0, 0], [10, 3], [4, 17], [-6, 8]];
          const ar = scale * Math.cos(angle), ai = scale * Math.sin(angle);
          const to: Point[] = from.map(([x, y]) => [ar * x - ai * y + tx, ai * x + ar * y + ty]);
          const t = fitSimilarity(from, to);
          expect(t.ar).toBeCloseTo(ar, 6);
          expect(t.ai).toBeCloseTo(ai, 6);
          expect(t.br).toBeCloseTo(tx, 5);
          expect(t.bi).toBeCloseTo(ty, 5);
        },
      ),
    );
  });

  it('maps a rotated face back upright (eyes level in the chip)', () => {
    // A synthetic 68-point face: dlib's mean shape is recovered from chipTransform of itself.
    const identity = chipTransform(Array.from({ length: 68 }, (_, i) => [i, i] as Point));
    expect(Number.isFinite(identity.ar)).toBe(true);
    const angle = 0.3;
    const base = chipTransform(Array.from({ length: 68 }, (_, i) => [Math.cos(i) * 50 + 200, Math.sin(i) * 50 + 200] as Point));
    const rotated = chipTransform(
      Array.from({ length: 68 }, (_, i) => {
        const x = Math.cos(i) * 50, y = Math.sin(i) * 50;
        return [x * Math.cos(angle) - y * Math.sin(angle) + 200, x * Math.sin(angle) + y * Math.cos(angle) + 200] as Point;
      }),
    );
    expect(Math.atan2(rotated.ai, rotated.ar) - Math.atan2(base.ai, base.ar)).toBeCloseTo(angle, 6);
    expect(Math.hypot(rotated.ar, rotated.ai)).toBeCloseTo(Math.hypot(base.ar, base.ai), 6);
  });
});
