import type { Point } from './align.ts';
import type { FaceErrorCode } from './errors.ts';

/**
 * Capture quality of one face, measured before its descriptor is trusted (ISO/IEC 29794-5 lists
 * pose and sharpness among the face image quality components). A frame that fails is refused
 * with its own code, so that the page can say what to change ("face the camera", "hold still")
 * instead of a silent false reject. Size is the third component; it is `face_too_small`
 * (DetectionLimits.minFaceSize). Thresholds are in DetectionLimits and were read off LFW by
 * `npm run bench:accuracy` (table "Quality gate"; README, "Quality gate").
 */
export interface FaceQuality {
  /**
   * Horizontal offset of the nose tip (landmark 30) from the middle of the jaw line (0, 16),
   * projected on the jaw direction, in jaw widths: 0 facing the camera, about +-0.1 at a 20-degree
   * turn, +-0.3 near profile. The same proxy as src/liveness's head pose (geometry.ts), signed the
   * same way.
   */
  readonly yaw: number;
  /**
   * Detail of the aligned face: RMS of the Laplacian of the chip's luma over its inner face
   * region, divided by the region's luma standard deviation (so that neither exposure nor contrast
   * moves it). Motion blur, defocus and heavy compression lower it.
   */
  readonly sharpness: number;
}

export interface QualityRule {
  /** |yaw| above this refuses the frame (face_turned). */
  readonly maxYaw: number;
  /** Sharpness below this refuses the frame (face_blurred). */
  readonly minSharpness: number;
}

/** The refusal the rule gives a face of this quality, if any (pose first: it is the likelier advice). */
export function qualityRefusal(q: FaceQuality, rule: QualityRule): Extract<FaceErrorCode, 'face_turned' | 'face_blurred'> | undefined {
  if (!(Math.abs(q.yaw) <= rule.maxYaw)) return 'face_turned';
  if (!(q.sharpness >= rule.minSharpness)) return 'face_blurred';
  return undefined;
}

export function yawOf(points: readonly Point[]): number {
  const [x0, y0] = points[0]!, [x16, y16] = points[16]!, [xn, yn] = points[30]!;
  const width = Math.hypot(x16 - x0, y16 - y0);
  if (!(width > 0)) return Number.NaN;
  const ux = (x16 - x0) / width, uy = (y16 - y0) / width;
  return ((xn - (x0 + x16) / 2) * ux + (yn - (y0 + y16) / 2) * uy) / width;
}

/**
 * Sharpness of a size x size RGB chip (extractChip's layout, 0..255) aligned with dlib's mean
 * face and padding 0.25 (align.ts): the face spans [size/6, 5 size/6]; the region measured is the
 * middle of it (brows to mouth, cheek to cheek), where hair and background do not count.
 */
export function sharpnessOf(chip: Float32Array, size: number): number {
  const luma = new Float32Array(size * size);
  for (let i = 0; i < size * size; i += 1) luma[i] = 0.299 * chip[3 * i]! + 0.587 * chip[3 * i + 1]! + 0.114 * chip[3 * i + 2]!;
  const lo = Math.round(size * 0.25), hi = Math.round(size * 0.75);
  let sum = 0, sumSq = 0, lapSq = 0, n = 0;
  for (let v = lo; v < hi; v += 1) {
    for (let u = lo; u < hi; u += 1) {
      const c = luma[v * size + u]!;
      const lap = 4 * c - luma[v * size + u - 1]! - luma[v * size + u + 1]! - luma[(v - 1) * size + u]! - luma[(v + 1) * size + u]!;
      sum += c;
      sumSq += c * c;
      lapSq += lap * lap;
      n += 1;
    }
  }
  luma.fill(0);
  const variance = sumSq / n - (sum / n) ** 2;
  // A flat region (a uniform patch, not a face) has no detail at all.
  return variance > 1 ? Math.sqrt(lapSq / n) / Math.sqrt(variance) : 0;
}
