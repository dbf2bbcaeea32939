import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/**
 * Face fixtures for tests and benchmarks, all built in memory (never written into the repository):
 * - the shared research photos (LFW, face_recognition) from FACES_DIR, when present;
 * - photos that installed packages ship (face-api's demo group photos), so that a fresh machine
 *   still exercises the real face path;
 * - webcam-like 640x480 JPEG frames and .mjpeg fake-camera files for browser tests.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const require = createRequire(import.meta.url);

/** FACES_DIR (default ../shared/faces next to the repository), or null when it does not exist. */
export function facesDir(): string | null {
  const dir = path.resolve(repoRoot, process.env.FACES_DIR ?? path.join('..', 'shared', 'faces'));
  return existsSync(dir) ? dir : null;
}

/**
 * For suites that need FACES_DIR: `describe.skipIf(!faces.available)` with the reason printed once.
 * REQUIRE_FACES=1 turns the skip into a failure (CI machines that are supposed to have the data).
 */
export function facesRequirement(): { available: boolean; reason: string } {
  const dir = facesDir();
  const reason = `face photos not found at ${path.resolve(repoRoot, process.env.FACES_DIR ?? '../shared/faces')} (set FACES_DIR)`;
  if (!dir && process.env.REQUIRE_FACES === '1') throw new Error(`REQUIRE_FACES=1 but ${reason}`);
  if (!dir) console.warn(`[faces] skipping tests that need real photos: ${reason}`);
  return { available: dir !== null, reason };
}

/**
 * A photo from FACES_DIR: `face_recognition/<identity>/<n>.jpg` if it exists, else
 * `lfw/<identity>/<n>.jpg`. Throws when FACES_DIR is missing.
 */
export function loadFace(identity: string, n: number | string): Buffer {
  const dir = facesDir();
  if (!dir) throw new Error('FACES_DIR not available');
  for (const sub of ['face_recognition', 'lfw']) {
    const file = path.join(dir, sub, identity, `${n}.jpg`);
    if (existsSync(file)) return readFileSync(file);
  }
  throw new Error(`no photo ${identity}/${n} in ${dir}`);
}

export interface WebcamFrameOptions {
  /** Height of the photo on the 640x480 canvas in px (default 480: the photo fills the height). */
  height?: number;
  /** Horizontal centre of the photo on the canvas (default 320). */
  centerX?: number;
  /** Vertical centre (default 240). */
  centerY?: number;
  /** Background colour (default a dim grey-blue, like an indoor wall). */
  background?: { r: number; g: number; b: number };
  /** JPEG quality (default 85, like canvas.toBlob('image/jpeg', 0.85)). */
  quality?: number;
  /** Mirror horizontally (front cameras are usually shown mirrored). */
  mirror?: boolean;
  /**
   * The face's box in the photo's pixels: the photo is then scaled so that the face is `faceWidth`
   * px wide and placed with the face centred on (centerX, centerY); `height` is ignored.
   */
  face?: { x: number; y: number; width: number; height: number };
  /** Face width on the canvas when `face` is given (default 200 px, a user at arm's length). */
  faceWidth?: number;
}

/**
 * A 640x480 JPEG that looks like a webcam frame: the photo scaled to `height` px and placed on a
 * 640x480 canvas (an LFW 250x250 photo at the default height gives a ~210 px face, a user at arm's
 * length). Parts falling outside the canvas are cut.
 */
export async function webcamFrame(photo: Buffer, opts: WebcamFrameOptions = {}): Promise<Buffer> {
  const W = 640, H = 480;
  let height = Math.max(16, Math.round(opts.height ?? H));
  let faceCentre: { x: number; y: number } | undefined;
  if (opts.face) {
    const meta = await sharp(photo).rotate().metadata();
    const scale = (opts.faceWidth ?? 200) / opts.face.width;
    height = Math.max(16, Math.round(meta.height! * scale));
    faceCentre = { x: (opts.face.x + opts.face.width / 2) * scale, y: (opts.face.y + opts.face.height / 2) * scale };
  }
  let img = sharp(photo).rotate().resize({ height });
  if (opts.mirror) img = img.flop();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  if (faceCentre && opts.mirror) faceCentre.x = info.width - faceCentre.x;
  const anchorX = faceCentre?.x ?? info.width / 2;
  const anchorY = faceCentre?.y ?? info.height / 2;
  const left = Math.round((opts.centerX ?? W / 2) - anchorX);
  const top = Math.round((opts.centerY ?? H / 2) - anchorY);
  // Crop whatever lies outside the canvas (sharp's composite refuses overlays larger than the base).
  const x0 = Math.max(0, -left), y0 = Math.max(0, -top);
  const x1 = Math.min(info.width, W - left), y1 = Math.min(info.height, H - top);
  const base = sharp({ create: { width: W, height: H, channels: 3, background: opts.background ?? { r: 70, g: 78, b: 92 } } });
  if (x1 <= x0 || y1 <= y0) return base.jpeg({ quality: opts.quality ?? 85 }).toBuffer();
  const part = await sharp(data).extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 }).toBuffer();
  return base.composite([{ input: part, left: left + x0, top: top + y0 }]).jpeg({ quality: opts.quality ?? 85 }).toBuffer();
}

/** Path of face-api's demo group photo n (1..6): 3-5 people each, shipped with the package. */
export function demoPhotoPath(n: number): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`);
}

export function demoPhoto(n: number): Buffer {
  return readFileSync(demoPhotoPath(n));
}

/**
 * Faces in the demo photos (SSD MobileNet boxes at full resolution: x, y, width, height), chosen
 * so that a crop around each holds no other face. Verified by test/unit/face/engine.test.ts.
 */
const DEMO_FACE_BOXES: readonly { sample: number; box: readonly [number, number, number, number] }[] = [
  { sample: 1, box: [414, 355, 177, 240] },
  { sample: 1, box: [838, 421, 186, 228] },
  { sample: 1, box: [1476, 199, 203, 241] },
  { sample: 2, box: [1447, 153, 194, 242] },
  { sample: 3, box: [585, 329, 199, 271] },
  { sample: 4, box: [664, 53, 187, 258] },
  { sample: 5, box: [787, 109, 156, 212] },
  { sample: 6, box: [1487, 263, 212, 296] },
];

export interface DemoFace {
  /** e.g. "sample1-face0" */
  readonly name: string;
  /** JPEG of the crop: one face, about 2x the face's width, as a portrait photo. */
  readonly image: Buffer;
}

let demoFacesOnce: Promise<DemoFace[]> | undefined;

/**
 * Single-face JPEG crops of the demo photos (different people, one face each). Made once per
 * process and shared by every caller: read them, never change them.
 */
export function demoFaces(): Promise<DemoFace[]> {
  demoFacesOnce ??= cropDemoFaces();
  return demoFacesOnce;
}

async function cropDemoFaces(): Promise<DemoFace[]> {
  const out: DemoFace[] = [];
  const seen = new Map<number, number>();
  for (const { sample, box } of DEMO_FACE_BOXES) {
    const k = seen.get(sample) ?? 0;
    seen.set(sample, k + 1);
    const [x, y, w, h] = box;
    const photo = demoPhoto(sample);
    const meta = await sharp(photo).metadata();
    const left = Math.max(0, Math.round(x - 0.45 * w));
    const top = Math.max(0, Math.round(y - 0.35 * h));
    const right = Math.min(meta.width!, Math.round(x + 1.45 * w));
    const bottom = Math.min(meta.height!, Math.round(y + 1.35 * h));
    const image = await sharp(photo).extract({ left, top, width: right - left, height: bottom - top }).jpeg({ quality: 92 }).toBuffer();
    out.push({ name: `sample${sample}-face${k}`, image });
  }
  return out;
}

/** A crop of a demo photo's background (wall, no face): a no-face frame. */
export async function demoBackground(): Promise<Buffer> {
  return sharp(demoPhoto(4)).extract({ left: 1580, top: 0, width: 340, height: 420 }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * Writes an .mjpeg fake-camera file (concatenated JPEG frames, all of the same size) for
 * Chromium's --use-file-for-fake-video-capture. Returns the file path.
 */
export async function makeMjpeg(frames: Buffer[], file: string): Promise<string> {
  if (frames.length === 0) throw new Error('makeMjpeg: no frames');
  let size: string | undefined;
  for (const frame of frames) {
    if (frame[0] !== 0xff || frame[1] !== 0xd8) throw new Error('makeMjpeg: every frame must be a JPEG');
    const meta = await sharp(frame).metadata();
    const s = `${meta.width}x${meta.height}`;
    if (size && s !== size) throw new Error(`makeMjpeg: frames differ in size (${size} vs ${s})`);
    size = s;
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.concat(frames));
  return file;
}
