/**
 * Genuine PAD bursts for the load benchmark: the performer's head turns in
 * ../shared/faces/video/head-motion-1 (15 fps, frame NNN.jpg at (NNN-1)/15 s), answering the
 * challenge the benchmark's IdP always asks, ['turn_right', 'turn_left'].
 *
 * The server refuses frames it has seen in an earlier burst (keyed hashes, the replay guard), so
 * every burst must be new bytes. A camera would send new pixels; here each frame gets a JPEG
 * comment segment with a counter: other bytes, the same pixels, so every burst costs the face
 * engine exactly what the clip's frames cost and is judged as they are (deterministically).
 * Building one is a copy of ~14 kB a frame; callers still build them before a timed window.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Action } from '../../src/liveness/index.ts';
import { facesDir } from '../../support/faces.ts';
import { clipFrames } from '../../support/pad.ts';
import type { Burst } from './harness.ts';

/** The challenge of every sign-in and sign-up (fixed through the IdP factory's generator). */
export const BURST_ACTIONS: readonly Action[] = ['turn_right', 'turn_left'];

/** Sign-in: frames 58..100 every 3rd (5 fps, 15 frames, 2.8 s), as the camera page captures. */
const SIGN_IN = clipFrames(58, 100, 3);
/** Sign-up: the same turns at 7.5 fps (22 frames), as bench/liveness.ts enrolls the performer. */
const SIGN_UP = clipFrames(58, 100, 2);

/**
 * A copy of the JPEG `bytes` with a comment (COM) segment holding `tag`, placed after the JFIF
 * APP0 segment when there is one (JFIF wants APP0 right after SOI), else right after SOI.
 */
export function tagJpeg(bytes: Uint8Array, tag: string): Uint8Array {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('not a JPEG');
  const at = bytes[2] === 0xff && bytes[3] === 0xe0 ? 4 + ((bytes[4]! << 8) | bytes[5]!) : 2;
  const text = Buffer.from(tag, 'latin1');
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + text.length, 2);
  text.copy(segment, 4);
  return Buffer.concat([bytes.subarray(0, at), segment, bytes.subarray(at)]);
}

export interface BurstSource {
  /** Where the frames come from. */
  clip: string;
  /** Capture span of a sign-in burst (ms): what a camera films for, and what the server requires to have elapsed. */
  signInSpanMs: number;
  signInFrames: number;
  /** A byte-new sign-in burst (15 frames). */
  signIn(): Burst;
  /** A byte-new sign-up burst (22 frames). */
  signUp(): Burst;
}

/** The clip's bursts, or undefined when ../shared/faces (FACES_DIR) is not there. */
export function burstSource(): BurstSource | undefined {
  const root = facesDir();
  if (!root) return undefined;
  const clip = path.join(root, 'video', 'head-motion-1');
  const cache = new Map<number, Uint8Array>();
  const jpg = (n: number) => {
    let data = cache.get(n);
    if (!data) cache.set(n, (data = new Uint8Array(readFileSync(path.join(clip, `${String(n).padStart(3, '0')}.jpg`)))));
    return data;
  };
  let counter = 0;
  const make = (cut: { frames: number[]; times: number[] }): Burst => {
    counter += 1;
    return { frames: cut.frames.map((n, i) => ({ data: tagJpeg(jpg(n), `faceid-bench burst ${counter} frame ${i}`), type: 'image/jpeg' })), times: [...cut.times] };
  };
  return {
    clip,
    signInSpanMs: SIGN_IN.times.at(-1)! - SIGN_IN.times[0]!,
    signInFrames: SIGN_IN.frames.length,
    signIn: () => make(SIGN_IN),
    signUp: () => make(SIGN_UP),
  };
}
