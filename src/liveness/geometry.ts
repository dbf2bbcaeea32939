/**
 * Geometry of 68-point landmarks (iBUG 300-W / dlib order: 0-16 jaw, 17-26 brows, 27-35 nose,
 * 36-47 eyes, 48-67 mouth), as the face worker returns them: x0, y0, x1, y1, ... in frame pixels.
 */
export type Landmarks = ArrayLike<number>;

const x = (l: Landmarks, k: number) => l[2 * k]!;
const y = (l: Landmarks, k: number) => l[2 * k + 1]!;

export interface Pose {
  /**
   * Horizontal offset of the nose tip (30) from the middle of the jaw line (0, 16), in jaw widths:
   * about 0 facing the camera, positive when the user turns to their own left (the nose moves to
   * the image's right in an unmirrored camera frame), negative to their right. A monotone proxy of
   * yaw, not an angle: a flat photo turned about its vertical axis barely moves it (perspective
   * shifts the jaw's middle by about (width / 4 distance) sin(angle)), a turning head moves it by
   * the nose's depth times sin(angle).
   */
  yaw: number;
  /** Jaw width in pixels (the face's scale). */
  width: number;
  cx: number;
  cy: number;
}

export function pose(l: Landmarks): Pose {
  const width = Math.hypot(x(l, 16) - x(l, 0), y(l, 16) - y(l, 0));
  const mx = (x(l, 0) + x(l, 16)) / 2;
  const my = (y(l, 0) + y(l, 16)) / 2;
  // Project the nose offset onto the jaw direction, so a rolled head (tilted sideways) reads the same.
  const ux = (x(l, 16) - x(l, 0)) / width, uy = (y(l, 16) - y(l, 0)) / width;
  const yaw = ((x(l, 30) - mx) * ux + (y(l, 30) - my) * uy) / width;
  return { yaw, width, cx: mx, cy: my };
}

/** Points used for the planar test: jaw, brows, nose, eyes (the mouth moves with speech). */
const RIGID = [...range(0, 17), ...range(17, 27), ...range(27, 36), ...range(36, 48)];

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/**
 * How far the best homography from `a` to `b` misses the landmarks of `b` (RMS, in jaw widths of
 * `b`). Any picture of a flat object (a print, a screen) seen from two viewpoints is related by
 * one homography, so its landmarks fit to within the landmark detector's noise however it is
 * moved or tilted; a head that turns does not (the nose moves against the cheeks and the jaw
 * line). Direct linear transform with Hartley's normalisation (Hartley & Zisserman, 4.4).
 */
export function planarResidual(a: Landmarks, b: Landmarks): number {
  const pa = RIGID.map((k) => [x(a, k), y(a, k)] as const);
  const pb = RIGID.map((k) => [x(b, k), y(b, k)] as const);
  const na = normaliser(pa), nb = normaliser(pb);
  const A: number[][] = [];
  for (let i = 0; i < pa.length; i += 1) {
    const [u, v] = na.apply(pa[i]!);
    const [s, t] = nb.apply(pb[i]!);
    A.push([-u, -v, -1, 0, 0, 0, s * u, s * v, s]);
    A.push([0, 0, 0, -u, -v, -1, t * u, t * v, t]);
  }
  const h = smallestEigenvector(gram(A));
  let sum = 0;
  for (let i = 0; i < pa.length; i += 1) {
    const [u, v] = na.apply(pa[i]!);
    const w = h[6]! * u + h[7]! * v + h[8]!;
    const s = (h[0]! * u + h[1]! * v + h[2]!) / w, t = (h[3]! * u + h[4]! * v + h[5]!) / w;
    const [bx, by] = nb.invert([s, t]);
    sum += (bx - pb[i]![0]) ** 2 + (by - pb[i]![1]) ** 2;
  }
  return Math.sqrt(sum / pa.length) / pose(b).width;
}

function normaliser(points: ReadonlyArray<readonly [number, number]>) {
  let mx = 0, my = 0;
  for (const [px, py] of points) { mx += px; my += py; }
  mx /= points.length; my /= points.length;
  let d = 0;
  for (const [px, py] of points) d += Math.hypot(px - mx, py - my);
  const scale = Math.SQRT2 / (d / points.length || 1);
  return {
    apply: ([px, py]: readonly [number, number]): [number, number] => [(px - mx) * scale, (py - my) * scale],
    invert: ([px, py]: readonly [number, number]): [number, number] => [px / scale + mx, py / scale + my],
  };
}

function gram(A: number[][]): number[][] {
  const n = A[0]!.length;
  const G = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const row of A) for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) G[i]![j]! += row[i]! * row[j]!;
  return G;
}

/** Eigenvector of the smallest eigenvalue of a symmetric matrix (cyclic Jacobi rotations). */
function smallestEigenvector(S: number[][]): number[] {
  const n = S.length;
  const a = S.map((r) => r.slice());
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep += 1) {
    let off = 0;
    for (let p = 0; p < n; p += 1) for (let q = p + 1; q < n; q += 1) off += a[p]![q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p += 1) {
      for (let q = p + 1; q < n; q += 1) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k += 1) {
          const akp = a[k]![p]!, akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k += 1) {
          const apk = a[p]![k]!, aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k += 1) {
          const vkp = v[k]![p]!, vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i += 1) if (a[i]![i]! < a[best]![best]!) best = i;
  return v.map((row) => row[best]!);
}
