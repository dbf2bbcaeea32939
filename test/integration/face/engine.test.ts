import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceEngine, TRACK_SEARCH_EVERY, DEFAULT_MATCH_THRESHOLD, DESCRIPTOR_DIMENSION, FACE_MODEL_VERSION, type FaceEngine } from '../../../src/face/index.ts';
import { distance } from '../../../src/face/consensus.ts';
import { isAppError } from '../../../src/shared/index.ts';
import { errorCode } from '../../../support/errors.ts';
import { demoBackground, demoFaces, demoPhoto, webcamFrame, type DemoFace } from '../../../support/faces.ts';

// The real face path on a fresh machine: models from node_modules, faces cropped from the group
// photos that @vladmandic/face-api ships. One worker: the test machine has 2 cores shared by
// two test files.

let engine: FaceEngine;
let faces: DemoFace[];


beforeAll(async () => {
  [engine, faces] = await Promise.all([createFaceEngine({ workers: 1 }), demoFaces()]);
});
afterAll(async () => {
  await engine?.close();
});

describe('face engine on the demo photos', () => {
  it('describes one face as a unit-length descriptor of the advertised dimension', async () => {
    expect(engine.modelVersion).toBe(FACE_MODEL_VERSION);
    expect(engine.dimension).toBe(DESCRIPTOR_DIMENSION);
    const d = await engine.describe(faces[0]!.image);
    expect(d).toBeInstanceOf(Float32Array);
    expect(d.length).toBe(DESCRIPTOR_DIMENSION);
    expect(Math.hypot(...d)).toBeCloseTo(1, 5);
    expect(Math.max(...d.map(Math.abs))).toBeLessThan(1);
  });

  it('keeps different people apart and the same photo, re-framed as a webcam frame, together', async () => {
    const descriptors = [];
    for (const face of faces) descriptors.push(await engine.describe(face.image));
    for (let i = 0; i < descriptors.length; i += 1) {
      for (let j = i + 1; j < descriptors.length; j += 1) {
        expect(distance(descriptors[i]!, descriptors[j]!), `${faces[i]!.name} vs ${faces[j]!.name}`).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
      }
    }
    const frame = await webcamFrame(faces[1]!.image, { height: 400, centerX: 280, mirror: true });
    expect(await sharp(frame).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
    expect(distance(await engine.describe(frame), descriptors[1]!)).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
  });

  it('refuses a frame without a face', async () => {
    expect(await errorCode(engine.describe(await demoBackground()))).toBe('no_face');
    const grey = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 120, g: 120, b: 120 } } }).jpeg().toBuffer();
    expect(await errorCode(engine.describe(grey))).toBe('no_face');
    const noise = Buffer.from(Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 2654435761) % 256));
    expect(await errorCode(engine.describe(await sharp(noise, { raw: { width: 640, height: 480, channels: 3 } }).png().toBuffer()))).toBe('no_face');
  });

  it('refuses group photos (multiple_faces)', async () => {
    for (const n of [1, 2, 3, 4, 5, 6]) expect(await errorCode(engine.describe(demoPhoto(n))), `sample${n}`).toBe('multiple_faces');
  });

  it('refuses a face too far from the camera (face_too_small)', async () => {
    const far = await webcamFrame(faces[0]!.image, { height: 120 });
    expect(await errorCode(engine.describe(far))).toBe('face_too_small');
  });

  it('refuses malformed frames before they reach a worker', async () => {
    expect(await errorCode(engine.describe(Buffer.from('not an image')))).toBe('bad_image');
    expect(await errorCode(engine.probe([]))).toBe('bad_frame_count');
  });

  it('enroll drops a frame of someone else, and refuses when too few frames agree', async () => {
    const alice = await Promise.all([
      webcamFrame(faces[2]!.image, { height: 420 }),
      webcamFrame(faces[2]!.image, { height: 360, centerX: 360, mirror: true }),
      webcamFrame(faces[2]!.image, { height: 470, centerY: 250, quality: 70 }),
    ]);
    const bob = await webcamFrame(faces[5]!.image, { height: 420 });
    const template = await engine.enroll([...alice, bob]);
    expect(Math.hypot(...template)).toBeCloseTo(1, 5);
    expect(distance(template, await engine.describe(alice[0]!))).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    expect(distance(template, await engine.describe(bob))).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
    expect(await errorCode(engine.enroll([alice[0]!, alice[1]!, bob]))).toBe('frames_disagree');
    expect(await errorCode(engine.probe([alice[0]!, bob]))).toBe('frames_disagree');
    const probe = await engine.probe([alice[1]!, alice[2]!]);
    expect(distance(template, probe)).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
  });

  it('does not detach or alter the caller\'s buffers', async () => {
    const frame = Buffer.from(faces[3]!.image);
    const copy = Buffer.from(frame);
    await engine.describe(frame);
    expect(frame.equals(copy)).toBe(true);
  });
});

/** `other`'s photo, `height` px tall, standing at the right edge of `frame` (a bystander). */
const withSecondFace = async (frame: Buffer, other: Buffer, height = 300) => {
  const side = await sharp(other).resize({ height }).toBuffer({ resolveWithObject: true });
  const width = Math.min(side.info.width, Math.round((250 * height) / 300));
  const part = await sharp(side.data).extract({ left: 0, top: 0, width, height }).toBuffer();
  return sharp(frame).composite([{ input: part, left: 640 - width, top: 20 }]).jpeg().toBuffer();
};

describe('face engine: the one-face rule (src/face/subject.ts)', () => {
  it('takes a dominant central face beside a smaller one at the edge, in a single frame but not in a burst', async () => {
    const frame = await withSecondFace(await webcamFrame(faces[0]!.image, { height: 360, centerX: 300 }), faces[2]!.image, 200);
    const alone = await engine.describe(await webcamFrame(faces[0]!.image, { height: 360, centerX: 300 }));
    expect(distance(await engine.describe(frame), alone)).toBeLessThan(0.1);
    const [observed] = await engine.observe([frame]);
    expect(observed!.ok ? 'ok' : observed!.code).toBe('multiple_faces');
  });

  it('refuses two faces of about the same size (multiple_faces)', async () => {
    const frame = await withSecondFace(await webcamFrame(faces[0]!.image, { height: 300, centerX: 280 }), faces[2]!.image, 300);
    expect(await errorCode(engine.describe(frame))).toBe('multiple_faces');
  });
});

describe('face engine: the quality gate (src/face/quality.ts)', () => {
  // A user at arm's length (a ~180 px face); a strong defocus or motion blur is sigma 6 here.
  const frame = () => webcamFrame(faces[0]!.image, { height: 480 });
  const blurred = async (sigma: number) => sharp(await frame()).blur(sigma).jpeg({ quality: 85 }).toBuffer();

  it('refuses a blurred face with its own code, and keeps a slightly soft one', async () => {
    expect(await errorCode(engine.describe(await blurred(6)))).toBe('face_blurred');
    const soft = await engine.describe(await blurred(1));
    expect(distance(soft, await engine.describe(await frame()))).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
  });

  it('drops a blurred frame from a probe or a template, and says why when too few are left', async () => {
    const good = await Promise.all([frame(), webcamFrame(faces[0]!.image, { height: 420, mirror: true }), webcamFrame(faces[0]!.image, { height: 450, centerX: 340 })]);
    const bad = await blurred(6);
    const template = await engine.enroll([...good, bad]);
    expect(distance(template, await engine.probe([bad, good[0]!]))).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    expect(await errorCode(engine.probe([bad]))).toBe('face_blurred');
    expect(await errorCode(engine.enroll([good[0]!, good[1]!, bad]))).toBe('face_blurred');
  });

  it('leaves a liveness burst\'s frames to the liveness check (turning and motion are what it films)', async () => {
    const [observed] = await engine.observe([await blurred(6)]);
    expect(observed!.ok).toBe(true);
  });
});

describe('face engine: a burst is tracked (observe)', () => {
  // FaceEngine.observe searches a window around the previous frame's face, and the whole frame
  // every TRACK_SEARCH_EVERY-th frame or after a miss. What it claims, tried.
  const iou = (a: { x: number; y: number; width: number; height: number }, b: typeof a) => {
    const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
    const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
    return (w * h) / (a.width * a.height + b.width * b.height - w * h);
  };

  it('follows a moving face and finds the box and landmarks a whole-frame search finds', async () => {
    const frames = await Promise.all(Array.from({ length: 7 }, (_, i) => webcamFrame(faces[0]!.image, { height: 300, centerX: 200 + 12 * i })));
    const tracked = await engine.observe(frames);
    for (const [i, frame] of frames.entries()) {
      const whole = (await engine.observe([frame]))[0]!;
      const t = tracked[i]!;
      expect(t.ok && whole.ok, `frame ${i}`).toBe(true);
      if (!t.ok || !whole.ok) continue;
      expect(iou(t.face, whole.face), `frame ${i}`).toBeGreaterThan(0.8);
      let moved = 0;
      for (let k = 0; k < t.landmarks.length; k += 2) moved += Math.hypot(t.landmarks[k]! - whole.landmarks[k]!, t.landmarks[k + 1]! - whole.landmarks[k + 1]!);
      expect(moved / (t.landmarks.length / 2) / whole.face.width, `frame ${i}`).toBeLessThan(0.05);
    }
  });

  it('finds a face that jumped out of the window on the whole frame', async () => {
    const frames = await Promise.all([200, 205, 210, 215, 520].map((centerX) => webcamFrame(faces[0]!.image, { height: 300, centerX })));
    const observed = await engine.observe(frames);
    const last = observed[4]!;
    expect(last.ok).toBe(true);
    if (last.ok) expect(last.face.x + last.face.width / 2).toBeGreaterThan(420);
  });

  it(`sees a second face outside the window within ${TRACK_SEARCH_EVERY} frames (multiple_faces)`, async () => {
    const single = await Promise.all(Array.from({ length: 1 + TRACK_SEARCH_EVERY }, (_, i) => webcamFrame(faces[0]!.image, { height: 300, centerX: 170 + 3 * i })));
    // From the second frame on, someone else stands at the right edge of the picture, far outside the window.
    const frames = [single[0]!, ...(await Promise.all(single.slice(1).map((f) => withSecondFace(f, faces[2]!.image))))];
    const observed = await engine.observe(frames);
    expect(observed[0]!.ok).toBe(true);
    expect(observed.slice(1).some((o) => !o.ok && o.code === 'multiple_faces')).toBe(true);
  });
});

describe('face engine lifecycle', () => {
  it('refuses with face_engine_unavailable (503) once closed', async () => {
    const e = await createFaceEngine({ workers: 1 });
    await e.close();
    try {
      await e.describe(faces[0]!.image);
      expect.unreachable();
    } catch (error) {
      expect(isAppError(error) && [error.code, error.status]).toEqual(['face_engine_unavailable', 503]);
    }
  });
});
