import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceEngine, DEFAULT_MATCH_THRESHOLD, type FaceEngine } from '../../../src/face/index.ts';
import { distance } from '../../../src/face/consensus.ts';
import { errorCode } from '../../../support/errors.ts';
import { facesDir, facesRequirement, loadFace, webcamFrame } from '../../../support/faces.ts';

// Real photos from FACES_DIR (LFW and face_recognition fixtures). Skipped, with the reason
// printed, when the directory is missing; REQUIRE_FACES=1 makes that a failure.
const faces = facesRequirement();


describe.skipIf(!faces.available)(`face engine on real photos${faces.available ? '' : ` (skipped: ${faces.reason})`}`, () => {
  let engine: FaceEngine;
  beforeAll(async () => {
    engine = await createFaceEngine({ workers: 1 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('matches two photos of the same person and separates different people', async () => {
    const [obama1, obama2, biden, kit, rose] = await Promise.all([
      engine.describe(loadFace('obama', 1)),
      engine.describe(loadFace('obama', 2)),
      engine.describe(loadFace('biden', 1)),
      engine.describe(loadFace('kit_harington', 1)),
      engine.describe(loadFace('rose_leslie', 1)),
    ]);
    expect(distance(obama1, obama2)).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    for (const other of [biden, kit, rose]) expect(distance(obama1, other)).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
    expect(distance(kit, rose)).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
  });

  it('matches LFW photos of one person and separates an LFW impostor pair', async () => {
    const a = await engine.describe(loadFace('George_W_Bush', 1));
    const b = await engine.describe(loadFace('George_W_Bush', 2));
    const c = await engine.describe(loadFace('Abel_Pacheco', 1));
    expect(distance(a, b)).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    expect(distance(a, c)).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
  });

  it('refuses the group photos (multiple_faces)', async () => {
    for (const n of [1, 2, 3]) expect(await errorCode(engine.describe(loadFace('_multiple_faces', n))), `_multiple_faces/${n}`).toBe('multiple_faces');
  });

  it('refuses a face in profile (face_turned) and keeps the performer facing the camera', async () => {
    // head-motion-1 (video/README.md): frame 25 (1.6 s) is the close-up profile of another
    // person (yaw proxy about -0.5); frame 101 (6.7 s) the performer, nearly frontal.
    const frame = (n: number) => readFileSync(path.join(facesDir()!, 'video', 'head-motion-1', `${String(n).padStart(3, '0')}.jpg`));
    expect(await errorCode(engine.describe(frame(25)))).toBe('face_turned');
    expect((await engine.describe(frame(101))).length).toBeGreaterThan(0);
  });

  it('enrolls from webcam-like frames and verifies a later frame; a frame of someone else is dropped', async () => {
    // obama/1, /2 and /5 are portraits; at 600-700 px high the face is ~110-220 px wide (obama/3 is a
    // distant shot: too small at this scale).
    const frames = await Promise.all([1, 2, 5].map((n) => loadFace('obama', n)).map((photo, i) => webcamFrame(photo, { height: 600 + 50 * i })));
    const intruder = await webcamFrame(loadFace('biden', 1), { height: 700 });
    const template = await engine.enroll([...frames, intruder]);
    const probe = await engine.probe([await webcamFrame(loadFace('obama', 4), { height: 560 })]);
    expect(distance(template, probe)).toBeLessThan(DEFAULT_MATCH_THRESHOLD);
    const stranger = await engine.probe([await webcamFrame(loadFace('kit_harington', 1), { height: 560 })]);
    expect(distance(template, stranger)).toBeGreaterThan(DEFAULT_MATCH_THRESHOLD);
  });
});
