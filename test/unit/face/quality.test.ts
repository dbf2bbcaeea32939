import { describe, expect, it } from 'vitest';
import type { Point } from '../../../src/face/align.ts';
import { DEFAULT_DETECTION_LIMITS } from '../../../src/face/engine.ts';
import { qualityRefusal, sharpnessOf, yawOf } from '../../../src/face/quality.ts';

// The quality gate's measures on synthetic inputs (on real frames: test/integration/face/engine.test.ts).

/** 68 points: a jaw from (0, 0) to (100, 0), the nose tip at (50 + noseShift, 40), the rest at the centre; rotated by `roll`. */
function landmarks(noseShift: number, roll = 0): Point[] {
  const points: Point[] = Array.from({ length: 68 }, () => [50, 50] as Point);
  points[0] = [0, 0];
  points[16] = [100, 0];
  points[30] = [50 + noseShift, 40];
  const c = Math.cos(roll), s = Math.sin(roll);
  return points.map(([x, y]) => [200 + c * x - s * y, 100 + s * x + c * y] as Point);
}

/** A size x size RGB chip: a pattern with fine detail (`fine`) or only smooth gradients, at a given contrast. */
function chip(size: number, fine: boolean, contrast = 1, offset = 0): Float32Array {
  const out = new Float32Array(size * size * 3);
  for (let v = 0; v < size; v += 1) {
    for (let u = 0; u < size; u += 1) {
      const smooth = 60 * Math.sin(u / 9) * Math.cos(v / 11);
      const detail = fine ? 40 * ((u + v) % 2 ? 1 : -1) * Math.sin(u / 5) : 0;
      const value = 128 + offset + contrast * (smooth + detail);
      out.fill(value, 3 * (v * size + u), 3 * (v * size + u) + 3);
    }
  }
  return out;
}

describe('quality gate', () => {
  it('reads the yaw proxy as the nose offset along the jaw, in jaw widths, whatever the roll', () => {
    expect(yawOf(landmarks(0))).toBeCloseTo(0, 6);
    expect(yawOf(landmarks(20))).toBeCloseTo(0.2, 6);
    expect(yawOf(landmarks(-35))).toBeCloseTo(-0.35, 6);
    expect(yawOf(landmarks(20, 0.6))).toBeCloseTo(0.2, 6);
  });

  it('measures detail independently of exposure and contrast, and finds none in a flat patch', () => {
    const sharp = sharpnessOf(chip(150, true), 150);
    const soft = sharpnessOf(chip(150, false), 150);
    expect(sharp).toBeGreaterThan(4 * soft);
    expect(sharpnessOf(chip(150, true, 0.5, 30), 150)).toBeCloseTo(sharp, 1);
    expect(sharpnessOf(new Float32Array(150 * 150 * 3).fill(90), 150)).toBe(0);
  });

  it('refuses a turned face first, then a blurred one, and fails closed on a measure it cannot read', () => {
    const rule = DEFAULT_DETECTION_LIMITS;
    expect(qualityRefusal({ yaw: 0.05, sharpness: 0.3 }, rule)).toBeUndefined();
    expect(qualityRefusal({ yaw: -(rule.maxYaw + 0.01), sharpness: 0.3 }, rule)).toBe('face_turned');
    expect(qualityRefusal({ yaw: rule.maxYaw + 0.01, sharpness: 0 }, rule)).toBe('face_turned');
    expect(qualityRefusal({ yaw: 0, sharpness: rule.minSharpness - 0.001 }, rule)).toBe('face_blurred');
    expect(qualityRefusal({ yaw: Number.NaN, sharpness: 0.3 }, rule)).toBe('face_turned');
    expect(qualityRefusal({ yaw: 0, sharpness: Number.NaN }, rule)).toBe('face_blurred');
  });
});
