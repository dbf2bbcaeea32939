import type { RgbImage } from './decode.ts';

/**
 * dlib-style face alignment: the descriptor network (face-api's port of dlib's ResNet
 * `dlib_face_recognition_resnet_model_v1`) was trained on 150x150 "face chips" cut by
 * dlib::get_face_chip_details (size 150, padding 0.25, as face_recognition / dlib's
 * compute_face_descriptor do): a similarity transform (rotation, scale, translation) fitted by
 * least squares from 33 of the 68 landmarks to dlib's mean face shape. face-api itself only crops an
 * axis-aligned box, so a tilted head reaches the network rotated; this restores the training
 * geometry. The mean shape below is dlib's (dlib/image_transforms/interpolation.h, points 17..67).
 */
const MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127,
  0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647,
  0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159,
  0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009,
  0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077,
  0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233,
  0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

export type Point = readonly [number, number];

/** Chip -> image similarity transform: image = a * chip + b, with a, b complex numbers. */
export interface Similarity {
  readonly ar: number;
  readonly ai: number;
  readonly br: number;
  readonly bi: number;
}

/** Landmarks dlib uses: 27..54 and 60..64 (no jaw, eyebrows or lower lip). */
function usedLandmark(i: number): boolean {
  return i >= 27 && !(i >= 55 && i <= 59) && !(i >= 65 && i <= 67);
}

/** Least-squares similarity mapping `from` onto `to` (closed form for 2-D, no reflection). */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let k = 0; k < n; k += 1) {
    fx += from[k]![0]; fy += from[k]![1]; tx += to[k]![0]; ty += to[k]![1];
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let nr = 0, ni = 0, den = 0;
  for (let k = 0; k < n; k += 1) {
    const ax = from[k]![0] - fx, ay = from[k]![1] - fy, bx = to[k]![0] - tx, by = to[k]![1] - ty;
    nr += ax * bx + ay * by;
    ni += ax * by - ay * bx;
    den += ax * ax + ay * ay;
  }
  const ar = nr / den, ai = ni / den;
  return { ar, ai, br: tx - (ar * fx - ai * fy), bi: ty - (ar * fy + ai * fx) };
}

/** The chip -> image transform for 68 landmarks (image pixel coordinates). */
export function chipTransform(landmarks: readonly Point[], size = 150, padding = 0.25): Similarity {
  if (landmarks.length !== 68) throw new Error('68 landmarks expected');
  const from: Point[] = [];
  const to: Point[] = [];
  for (let i = 17; i < 68; i += 1) {
    if (!usedLandmark(i)) continue;
    from.push([((padding + MEAN_X[i - 17]!) / (2 * padding + 1)) * size, ((padding + MEAN_Y[i - 17]!) / (2 * padding + 1)) * size]);
    to.push(landmarks[i]!);
  }
  return fitSimilarity(from, to);
}

/**
 * Cuts the aligned chip (size x size x 3 floats, 0..255). Bilinear sampling, supersampled
 * ceil(scale)^2 times per chip pixel when the face is larger than the chip, which plays the role of
 * dlib's image pyramid (no aliasing when a 300 px webcam face is shrunk to 150 px). Samples outside
 * the image repeat the border.
 */
export function extractChip(image: RgbImage, transform: Similarity, size = 150): Float32Array {
  const { ar, ai, br, bi } = transform;
  const { data, width, height } = image;
  const scale = Math.hypot(ar, ai);
  const ss = Math.min(8, Math.max(1, Math.ceil(scale - 1e-6)));
  const inv = 1 / (ss * ss);
  const out = new Float32Array(size * size * 3);
  const maxX = width - 1, maxY = height - 1;
  for (let v = 0; v < size; v += 1) {
    for (let u = 0; u < size; u += 1) {
      let r = 0, g = 0, b = 0;
      for (let sy = 0; sy < ss; sy += 1) {
        const cv = v + (sy + 0.5) / ss - 0.5;
        for (let sx = 0; sx < ss; sx += 1) {
          const cu = u + (sx + 0.5) / ss - 0.5;
          const x = ar * cu - ai * cv + br;
          const y = ai * cu + ar * cv + bi;
          const x0 = Math.floor(x), y0 = Math.floor(y);
          const dx = x - x0, dy = y - y0;
          const xa = x0 < 0 ? 0 : x0 > maxX ? maxX : x0;
          const xb = x0 + 1 < 0 ? 0 : x0 + 1 > maxX ? maxX : x0 + 1;
          const ya = y0 < 0 ? 0 : y0 > maxY ? maxY : y0;
          const yb = y0 + 1 < 0 ? 0 : y0 + 1 > maxY ? maxY : y0 + 1;
          const w00 = (1 - dx) * (1 - dy), w10 = dx * (1 - dy), w01 = (1 - dx) * dy, w11 = dx * dy;
          const o00 = (ya * width + xa) * 3, o10 = (ya * width + xb) * 3, o01 = (yb * width + xa) * 3, o11 = (yb * width + xb) * 3;
          r += w00 * data[o00]! + w10 * data[o10]! + w01 * data[o01]! + w11 * data[o11]!;
          g += w00 * data[o00 + 1]! + w10 * data[o10 + 1]! + w01 * data[o01 + 1]! + w11 * data[o11 + 1]!;
          b += w00 * data[o00 + 2]! + w10 * data[o10 + 2]! + w01 * data[o01 + 2]! + w11 * data[o11 + 2]!;
        }
      }
      const o = (v * size + u) * 3;
      out[o] = r * inv;
      out[o + 1] = g * inv;
      out[o + 2] = b * inv;
    }
  }
  return out;
}
