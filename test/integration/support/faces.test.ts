import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { demoBackground, demoFaces, makeMjpeg, webcamFrame } from '../../../support/faces.ts';

// The frame helpers that the browser tests use (fake camera files) and the face tests build on.
describe('face test support', () => {
  it('makes 640x480 webcam-like JPEG frames from a photo', async () => {
    const [face] = await demoFaces();
    for (const opts of [{}, { height: 900, centerX: 100 }, { face: { x: 10, y: 10, width: 100, height: 120 }, faceWidth: 220, mirror: true }]) {
      const frame = await webcamFrame(face!.image, opts);
      expect(await sharp(frame).metadata()).toMatchObject({ format: 'jpeg', width: 640, height: 480 });
    }
  });

  it('writes an .mjpeg fake-camera file of concatenated frames, all of one size', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'faceid-mjpeg-'));
    try {
      const faces = await demoFaces();
      const frames = await Promise.all(faces.slice(0, 3).map((f) => webcamFrame(f.image)));
      const file = await makeMjpeg(frames, path.join(dir, 'camera.mjpeg'));
      const bytes = await readFile(file);
      expect(bytes.length).toBe(frames.reduce((n, f) => n + f.length, 0));
      expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
      await expect(makeMjpeg([frames[0]!, await demoBackground()], path.join(dir, 'bad.mjpeg'))).rejects.toThrow(/differ in size/);
      await expect(makeMjpeg([Buffer.from('nope')], path.join(dir, 'bad.mjpeg'))).rejects.toThrow(/JPEG/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
