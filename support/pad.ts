import sharp from 'sharp';
import type { FrameObservation } from '../src/face/index.ts';
import { pose, type Action } from '../src/liveness/index.ts';

/**
 * Presentation attacks built from photos, in memory, as an attacker holding a print (or a phone)
 * to the camera would produce them: every frame is the photo as a flat object seen through a
 * pinhole camera, moved (shift, roll, scale) or tilted about its vertical or horizontal axis,
 * over a background, with camera noise and JPEG compression. A flat object's image is always a
 * homography of the photo; that is what the liveness check tests for (src/liveness/geometry.ts).
 */

export interface PrintPose {
  /** Turn about the print's vertical axis, degrees (positive: its right edge away from the camera). */
  yawDeg?: number;
  /** Tilt about its horizontal axis, degrees. */
  pitchDeg?: number;
  /** Rotation in the image plane, degrees. */
  rollDeg?: number;
  /** Shift of the print's centre, in pixels of the 640x480 frame. */
  dx?: number;
  dy?: number;
  /** Size multiplier (moving the print closer or farther). */
  scale?: number;
  /** The print is cut out to the face's oval (the wall shows around it), as a careful attacker's would be. */
  cutout?: boolean;
}

const W = 640, H = 480;

interface Rgb { data: Buffer; width: number; height: number }

async function rgb(image: Buffer): Promise<Rgb> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * Homography from frame pixels to photo pixels for a print of `side` pixels (at distance `depth`
 * in the same units, focal length `focal`), posed as given. Built forward (photo -> frame), inverted.
 */
function inverseMapping(photo: Rgb, pose: PrintPose, side: number): (u: number, v: number) => [number, number] {
  const focal = 600, depth = 900;
  const s = (side * (pose.scale ?? 1)) / Math.max(photo.width, photo.height);
  const ry = ((pose.yawDeg ?? 0) * Math.PI) / 180, rx = ((pose.pitchDeg ?? 0) * Math.PI) / 180, rz = ((pose.rollDeg ?? 0) * Math.PI) / 180;
  // Photo pixel (p, q) -> print plane point (X, Y, 0) centred, then R = Rz * Rx * Ry, then translate by depth.
  const cy = Math.cos(ry), sy = Math.sin(ry), cx = Math.cos(rx), sx = Math.sin(rx), cz = Math.cos(rz), sz = Math.sin(rz);
  const Ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]];
  const Rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const Rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]];
  const R = mul(Rz, mul(Rx, Ry));
  // Columns: X axis, Y axis and origin of the plane in camera space -> projective matrix on (X, Y, 1).
  const ox = (pose.dx ?? 0) * depth / focal, oy = (pose.dy ?? 0) * depth / focal;
  const M = [
    [R[0]![0]!, R[0]![1]!, ox],
    [R[1]![0]!, R[1]![1]!, oy],
    [R[2]![0]!, R[2]![1]!, depth],
  ];
  const K = [[focal, 0, W / 2], [0, focal, H / 2], [0, 0, 1]];
  const P = [[s, 0, -s * photo.width / 2], [0, s, -s * photo.height / 2], [0, 0, 1]];
  const forward = mul(K, mul(M, P));
  const inv = invert3(forward);
  return (u, v) => {
    const w = inv[2]![0]! * u + inv[2]![1]! * v + inv[2]![2]!;
    return [(inv[0]![0]! * u + inv[0]![1]! * v + inv[0]![2]!) / w, (inv[1]![0]! * u + inv[1]![1]! * v + inv[1]![2]!) / w];
  };
}

function mul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((sum, v, k) => sum + v * b[k]![j]!, 0)));
}

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m[0]!, [d, e, f] = m[1]!, [g, h, i] = m[2]!;
  const A = e! * i! - f! * h!, B = -(d! * i! - f! * g!), C = d! * h! - e! * g!;
  const det = a! * A + b! * B + c! * C;
  return [
    [A / det, -(b! * i! - c! * h!) / det, (b! * f! - c! * e!) / det],
    [B / det, (a! * i! - c! * g!) / det, -(a! * f! - c! * d!) / det],
    [C / det, -(a! * h! - b! * g!) / det, (a! * e! - b! * d!) / det],
  ];
}

/** Deterministic noise (tests must be reproducible). */
function rng(seed: number) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 640x480 JPEG frame of `photo` printed (side ~ 300 px at rest) and posed; noise seeded. */
export async function printFrame(photo: Buffer, pose: PrintPose, seed = 1, side = 300): Promise<Buffer> {
  const src = await rgb(photo);
  const map = inverseMapping(src, pose, side);
  const out = Buffer.alloc(W * H * 3);
  const random = rng(seed);
  for (let v = 0; v < H; v += 1) {
    for (let u = 0; u < W; u += 1) {
      const [px, py] = map(u + 0.5, v + 0.5);
      const o = (v * W + u) * 3;
      const noise = (random() - 0.5) * 6;
      // An LFW-style photo has the face centred; a cut-out keeps an oval around it.
      const outside = pose.cutout && ((px / src.width - 0.5) / 0.24) ** 2 + ((py / src.height - 0.5) / 0.32) ** 2 > 1;
      if (outside || px < 0 || py < 0 || px >= src.width - 1 || py >= src.height - 1) {
        // A plain wall behind the print, with a gentle gradient.
        const g = 90 + (u / W) * 40 + noise;
        out[o] = g; out[o + 1] = g + 5; out[o + 2] = g + 10;
        continue;
      }
      const x0 = Math.floor(px), y0 = Math.floor(py), fx = px - x0, fy = py - y0;
      for (let ch = 0; ch < 3; ch += 1) {
        const at = (xx: number, yy: number) => src.data[(yy * src.width + xx) * 3 + ch]!;
        const value = at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy;
        out[o + ch] = Math.max(0, Math.min(255, value + noise));
      }
    }
  }
  return sharp(out, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

/** Frames of a print following a pose track (one pose per frame). */
export function printBurst(photo: Buffer, poses: PrintPose[], seed = 1): Promise<Buffer[]> {
  return Promise.all(poses.map((p, i) => printFrame(photo, p, seed * 1000 + i)));
}

/** Evenly spaced values from a to b (n of them). */
export function ramp(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (n === 1 ? a : a + ((b - a) * i) / (n - 1)));
}

/** The attack recipes of the PAD measurements (test/integration/liveness, bench/liveness.ts). */
export type TurnOrder = 'left_first' | 'right_first';

/** (a) A still print: the same pose in every frame. */
export const stillPoses = (n = 8): PrintPose[] => Array.from({ length: n }, () => ({ scale: 1.4 }));

/** (b) A print moved in the plane: shifted, rolled and brought closer, smoothly (the face 130-170 px wide). */
export const movedPoses = (n = 8): PrintPose[] => ramp(-90, 90, n).map((dx, i) => ({ dx, dy: Math.sin(i) * 20, rollDeg: (i - n / 2) * 4, scale: 1.3 + i * 0.05 }));

/**
 * (c) A print tilted the way that moves the yaw proxy as the turns ask (measured: turning the
 * print's right edge towards the camera raises it the most a flat picture can), up to 55 degrees,
 * about both axes on every third identity, close to the camera or not.
 */
export function tiltPoses(order: TurnOrder, k: number, close: boolean): PrintPose[] {
  const first = order === 'left_first' ? -1 : 1;
  return [0, 25, 45, 55, 30, 0, -30, -55].map((a, i) => ({ yawDeg: first * a, pitchDeg: k % 3 === 0 ? (i - 4) * 6 : 0, scale: close ? 1.8 : 1.4 }));
}

/**
 * (d) The order in which a photo-swap attacker shows photos of one person, knowing each photo's
 * yaw proxy (NaN: no usable face): frontal, through the intermediate poses to the first side, back
 * through frontal, on to the other side; repeated until the burst is long enough. Returns photo
 * indices (at most 40), or undefined with fewer than two usable photos.
 */
export function photoSwapOrder(yaws: readonly number[], order: TurnOrder): number[] | undefined {
  const usable = yaws.map((y, i) => [y, i] as const).filter(([y]) => Number.isFinite(y));
  if (usable.length < 2) return undefined;
  const sign = order === 'left_first' ? 1 : -1;
  const sorted = [...usable].sort((a, b) => sign * (a[0] - b[0]));
  const frontal = [...usable].sort((a, b) => Math.abs(a[0]) - Math.abs(b[0]))[0]![1];
  const towardsFirst = sorted.filter(([y]) => sign * y >= sign * yaws[frontal]!).map(([, i]) => i);
  const towardsSecond = sorted.filter(([y]) => sign * y < sign * yaws[frontal]!).map(([, i]) => i).reverse();
  let sequence = [frontal, ...towardsFirst, ...[...towardsFirst].reverse(), ...towardsSecond];
  while (sequence.length < 8) sequence = sequence.flatMap((i) => [i, i]);
  return sequence.slice(0, 40);
}

/** The challenge identity k answers in the measurements (which way comes first alternates). */
export const challengeFor = (k: number): Action[] => (k % 2 ? ['turn_right', 'turn_left'] : ['turn_left', 'turn_right']);
export const turnOrderOf = (actions: readonly Action[]): TurnOrder => (actions[0] === 'turn_left' ? 'left_first' : 'right_first');
/** Capture times of an attack burst of n frames (4 a second). */
export const burstTimes = (n: number, intervalMs = 250): number[] => Array.from({ length: n }, (_, i) => i * intervalMs);

/** The print attacks (a), (b), (c) and (f) of identity k, as frames (f: `other`'s print from the fifth frame on). */
export async function printAttack(type: 'still' | 'moved' | 'tilted' | 'switch', k: number, photo: Buffer, other?: Buffer): Promise<Buffer[]> {
  const order = turnOrderOf(challengeFor(k));
  if (type === 'still') return printBurst(photo, stillPoses(), k + 1);
  if (type === 'moved') return printBurst(photo, movedPoses(), k + 1);
  if (type === 'tilted') return printBurst(photo, tiltPoses(order, k, k % 2 === 0), k + 1);
  if (!other) throw new Error('an identity switch needs a second photo');
  const poses = tiltPoses(order, k, true);
  return [...(await printBurst(photo, poses.slice(0, 4), k + 1)), ...(await printBurst(other, poses.slice(4), k + 7))];
}

/**
 * (d) A photo swap for identity k: up to six photos of one person, each shown as a print, in the
 * order that answers the challenge as we measure yaw (photoSwapOrder). Undefined when fewer than
 * two photos show a usable face. (g) with `cutout`: each print cut out to the face's oval, so that
 * the same wall surrounds every face.
 */
export async function photoSwapAttack(k: number, photos: Buffer[], observe: (frames: Buffer[]) => Promise<FrameObservation[]>, options: { cutout?: boolean } = {}): Promise<Buffer[] | undefined> {
  const shown = photos.slice(0, 6);
  const print: PrintPose = { scale: options.cutout ? 1.5 : 1.2, cutout: options.cutout };
  const seen = await observe(await Promise.all(shown.map((p) => printBurst(p, [print], k).then((f) => f[0]!))));
  const yaws = seen.map((o) => (o.ok ? pose(o.landmarks).yaw : Number.NaN));
  const sequence = photoSwapOrder(yaws, turnOrderOf(challengeFor(k)));
  if (!sequence) return undefined;
  return Promise.all(sequence.map((i, j) => printBurst(shown[i]!, [print], k * 100 + j).then((f) => f[0]!)));
}

/**
 * Genuine bursts from ../shared/faces/video/head-motion-1 (15 fps; frame NNN.jpg at (NNN-1)/15 s).
 * The performer (3.3-7.8 s) turns to his right (frames 59-80, yaw peak about -0.30), to his left
 * (81-95, about +0.16), to his right again (100-118). Each challenge is answered by the segment
 * that does it, cut with four start and four end offsets, at 7.5 and 5 fps: 96 bursts.
 */
export const GENUINE_SEGMENTS: ReadonlyArray<{ actions: Action[]; starts: number[]; ends: number[] }> = [
  { actions: ['turn_right', 'turn_left'], starts: [58, 59, 60, 61], ends: [97, 98, 99, 100] },
  { actions: ['turn_left', 'turn_right'], starts: [86, 87, 88, 89], ends: [113, 115, 117, 118] },
  { actions: ['turn_right', 'turn_left', 'turn_right'], starts: [58, 59, 60, 61], ends: [113, 115, 117, 118] },
];

/** Frame numbers from..to (1-based) of the clip, every `step`-th, with their true capture times (ms). */
export function clipFrames(from: number, to: number, step: number): { frames: number[]; times: number[] } {
  const frames: number[] = [];
  for (let f = from; f <= to; f += step) frames.push(f);
  return { frames, times: frames.map((f) => ((f - from) * 1000) / 15) };
}

/**
 * Every genuine burst of GENUINE_SEGMENTS, observed as the server observes a burst it receives
 * (FaceEngine.observe tracks the face from one frame of the burst to the next, so a frame's
 * observation depends on the burst it is in).
 */
export async function genuineBursts<T>(observeFrames: (frames: number[]) => Promise<T[]>): Promise<Array<{ actions: Action[]; observations: T[]; times: number[] }>> {
  const out: Array<{ actions: Action[]; observations: T[]; times: number[] }> = [];
  for (const g of GENUINE_SEGMENTS) for (const s of g.starts) for (const e of g.ends) for (const step of [2, 3]) {
    const { frames, times } = clipFrames(s, e, step);
    out.push({ actions: g.actions, observations: await observeFrames(frames), times });
  }
  return out;
}
