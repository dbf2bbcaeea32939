import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_LIMITS, planarResidual, pose } from '../../../src/liveness/index.ts';

/**
 * The 3D test on synthetic landmarks: 68 points of a face-like layout with depth (the nose
 * stands out, the jaw line lies back), seen through a pinhole camera. A head turning moves them
 * as no homography can; the same layout flattened (a print) and turned stays one homography.
 */
function face(depthScale: number): Array<[number, number, number]> {
  const points: Array<[number, number, number]> = [];
  for (let k = 0; k < 17; k += 1) { const a = Math.PI * (k / 16); points.push([-Math.cos(a) * 0.5, Math.sin(a) * 0.55 - 0.05, -0.25 * depthScale]); } // jaw 0-16
  for (let k = 0; k < 10; k += 1) points.push([-0.38 + k * 0.085, -0.3, 0.05 * depthScale]); // brows 17-26
  for (let k = 0; k < 4; k += 1) points.push([0, -0.2 + k * 0.08, (0.08 + k * 0.07) * depthScale]); // nose bridge 27-30 (30: the tip)
  for (let k = 0; k < 5; k += 1) points.push([-0.1 + k * 0.05, 0.1, 0.12 * depthScale]); // nostrils 31-35
  for (let k = 0; k < 12; k += 1) points.push([(k < 6 ? -0.2 : 0.2) + Math.cos((k % 6) * Math.PI / 3) * 0.07, -0.18 + Math.sin((k % 6) * Math.PI / 3) * 0.03, 0]); // eyes 36-47
  for (let k = 0; k < 20; k += 1) points.push([Math.cos((k / 20) * 2 * Math.PI) * 0.18, 0.3 + Math.sin((k / 20) * 2 * Math.PI) * 0.06, 0.05 * depthScale]); // mouth 48-67
  return points;
}

/** Turned by `yawDeg` (positive: the user's left) and projected: x0, y0, x1, ... in pixels. */
function view(points: Array<[number, number, number]>, yawDeg: number, pitchDeg = 0): number[] {
  const a = (yawDeg * Math.PI) / 180, b = (pitchDeg * Math.PI) / 180;
  const out: number[] = [];
  for (const [x, y, z] of points) {
    // Camera looks along +z at the face; the face's z points towards the camera.
    const x1 = x * Math.cos(a) + z * Math.sin(a), z1 = -x * Math.sin(a) + z * Math.cos(a);
    const y2 = y * Math.cos(b) - z1 * Math.sin(b), z2 = y * Math.sin(b) + z1 * Math.cos(b);
    const depth = 3 - z2;
    out.push(320 + (600 * x1 * 0.5) / depth * 2, 240 + (600 * y2 * 0.5) / depth * 2);
  }
  return out;
}

describe('liveness geometry', () => {
  it('reads the yaw proxy: about 0 facing the camera, positive turned to the user\'s left, negative to the right', () => {
    const head = face(1);
    expect(Math.abs(pose(view(head, 0)).yaw)).toBeLessThan(0.01);
    expect(pose(view(head, 30)).yaw).toBeGreaterThan(DEFAULT_LIVENESS_LIMITS.turnYaw);
    expect(pose(view(head, -30)).yaw).toBeLessThan(-DEFAULT_LIVENESS_LIMITS.turnYaw);
  });

  it('a flat picture, turned or tilted, stays one homography (residual ~ 0); a turning head does not', () => {
    const flat = face(0);
    const head = face(1);
    for (const [yaw, pitch] of [[30, 0], [-45, 0], [0, 30], [40, 20]] as const) {
      expect(planarResidual(view(flat, 0), view(flat, yaw, pitch))).toBeLessThan(1e-6);
      expect(planarResidual(view(head, 0), view(head, yaw, pitch))).toBeGreaterThan(DEFAULT_LIVENESS_LIMITS.minParallax);
    }
    // The flat picture barely moves the yaw proxy however far it is turned.
    expect(Math.abs(pose(view(flat, 45)).yaw)).toBeLessThan(DEFAULT_LIVENESS_LIMITS.turnYaw);
  });
});
