import { chipTransform, extractChip, type Point } from './align.ts';
import type { RgbImage } from './decode.ts';

/**
 * A coarse signature of how one frame looks around the face, for the liveness check's
 * continuity test (src/liveness/verify.ts): consecutive frames of one head filmed a few times a
 * second look alike (same skin colour and light, same hair, clothes and background around it),
 * while a swap of photos (each with its own light and surroundings) changes them from one frame
 * to the next, even when identity and head pose progress as a turn would.
 *
 * Layout (APPEARANCE_LENGTH values):
 * - [0..2]: mean R, G, B (0-255) of the face's centre (cheeks, nose, mouth), from a face-aligned
 *   chip, so the same skin is averaged whatever the head's position;
 * - [3..38]: mean grey level of each cell of a 6x6 grid over the face and its surroundings
 *   (a face-aligned chip three face widths across: hair, shoulders, background).
 *
 * It is not a template (36 cells cannot identify anyone) but it is derived from the face, so it is
 * treated like a descriptor: never logged or stored, zeroed after the check.
 */
export const APPEARANCE_LENGTH = 3 + 36;

const CENTRE_CHIP = 30; // the face chip (dlib's padding 0.25): its centre 14x14 is the skin
const CONTEXT_CHIP = 36; // three face widths (padding 1.0) in 6x6 cells of 6x6 pixels
const CONTEXT_GRID = 6;

export function appearanceOf(image: RgbImage, points: readonly Point[]): Float32Array {
  const out = new Float32Array(APPEARANCE_LENGTH);
  const centre = extractChip(image, chipTransform(points, CENTRE_CHIP, 0.25), CENTRE_CHIP);
  let n = 0;
  for (let v = 8; v < 22; v += 1) {
    for (let u = 8; u < 22; u += 1) {
      const o = (v * CENTRE_CHIP + u) * 3;
      out[0]! += centre[o]!;
      out[1]! += centre[o + 1]!;
      out[2]! += centre[o + 2]!;
      n += 1;
    }
  }
  for (let c = 0; c < 3; c += 1) out[c]! /= n;
  const context = extractChip(image, chipTransform(points, CONTEXT_CHIP, 1.0), CONTEXT_CHIP);
  const cell = CONTEXT_CHIP / CONTEXT_GRID;
  for (let v = 0; v < CONTEXT_CHIP; v += 1) {
    for (let u = 0; u < CONTEXT_CHIP; u += 1) {
      const o = (v * CONTEXT_CHIP + u) * 3;
      const grey = 0.299 * context[o]! + 0.587 * context[o + 1]! + 0.114 * context[o + 2]!;
      out[3 + Math.floor(v / cell) * CONTEXT_GRID + Math.floor(u / cell)]! += grey / (cell * cell);
    }
  }
  centre.fill(0);
  context.fill(0);
  return out;
}
