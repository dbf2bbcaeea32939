import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FacePort } from '../src/biometric/index.ts';
import { createCustodianClient, type CustodianClient } from '../src/custodian/index.ts';
import { loadCustodianConfig } from '../src/custodian/internal/config.ts';
import { startCustodian } from '../src/custodian/internal/custodian.ts';
import { validateFrame } from '../src/face/index.ts';
import { createHeEngine, type HeEngine } from '../src/he/index.ts';
import { AppError, silentLogger } from '../src/shared/index.ts';
import type { Parts } from './idp.ts';
import type { Frame } from './signin.ts';

/**
 * Fast parts for the unit layer's HTTP tests (no face models, no child process): a fake face
 * engine that knows which person each test frame shows, the real HE engine, and the real
 * custodian service run in-process on loopback TCP. Frames are small real JPEGs (so the real
 * frame validation runs); `frame(person)` makes one and remembers whose face it "shows".
 */
export interface FakeParts {
  parts: Parts;
  frame(person: string): Promise<Frame>;
  /** A valid JPEG that shows no face (the fake engine answers no_face). */
  blank(): Promise<Frame>;
  /** Person A's enrollment (3 frames), A again (1 frame), person B (1 frame), as realParts has. */
  enrollFrames: Frame[];
  sameFrames: Frame[];
  otherFrames: Frame[];
  close(): Promise<void>;
}

const DIMENSION = 128;

/** A unit vector per person, and a little noise per frame (so frames of one person agree). */
function descriptorOf(person: string, frameKey: string): Float32Array {
  const seed = (label: string) => createHash('sha512').update(label).digest();
  const base = Buffer.concat([seed(`${person}:a`), seed(`${person}:b`)]);
  const noise = seed(`frame:${frameKey}`);
  const v = new Float32Array(DIMENSION);
  for (let i = 0; i < DIMENSION; i += 1) v[i] = (base[i]! - 127.5) / 128 + (noise[i % noise.length]! - 127.5) / 4096;
  const norm = Math.hypot(...v);
  for (let i = 0; i < DIMENSION; i += 1) v[i]! /= norm;
  return v;
}

export async function fakeParts(): Promise<FakeParts> {
  const people = new Map<string, string>(); // sha256 of the frame -> person
  const keyOf = (frame: Uint8Array) => createHash('sha256').update(frame).digest('hex');
  const describe = (frame: Uint8Array): Float32Array => {
    validateFrame(frame);
    const key = keyOf(frame);
    const person = people.get(key);
    if (!person) throw new AppError('no_face', 'No face was found.', { status: 422 });
    return descriptorOf(person, key);
  };
  const combine = (frames: Uint8Array[], min: number): Float32Array => {
    if (!Array.isArray(frames) || frames.length < min || frames.length > 10) throw new AppError('bad_frame_count', `Between ${min} and 10 pictures are expected.`, { status: 400 });
    const descriptors = frames.map(describe);
    const mean = new Float32Array(DIMENSION);
    for (const d of descriptors) for (let i = 0; i < DIMENSION; i += 1) mean[i]! += d[i]! / descriptors.length;
    const norm = Math.hypot(...mean);
    for (let i = 0; i < DIMENSION; i += 1) mean[i]! /= norm;
    return mean;
  };
  const face: FacePort = {
    modelVersion: 'fake-face-v1',
    enroll: async (frames) => combine(frames, 3),
    probe: async (frames) => combine(frames, 1),
  };

  const dir = mkdtempSync(join(tmpdir(), 'faceid-fakes-'));
  const secret = randomBytes(32).toString('base64url');
  const custodianProcess = await startCustodian(loadCustodianConfig({
    CUSTODIAN_KEY_DIR: join(dir, 'custodian'),
    CUSTODIAN_LISTEN: '127.0.0.1:0',
    CUSTODIAN_SHARED_SECRET: secret,
    CUSTODIAN_DEMO: '1',
    CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '100000',
    CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '100000',
    CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '100000',
    CUSTODIAN_REGISTRATIONS_PER_HOUR: '100000',
    CUSTODIAN_SUBJECT_REGISTRATIONS_PER_DAY: '1000',
  }), { logger: silentLogger });
  const address = custodianProcess.address as { host: string; port: number };
  const custodian: CustodianClient = createCustodianClient({ host: address.host, port: address.port, sharedSecret: secret });
  const he: HeEngine = await createHeEngine();

  let counter = 0;
  const jpeg = async () => {
    counter += 1;
    const colour = createHash('sha256').update(`colour:${counter}:${dir}`).digest();
    return sharp({ create: { width: 64, height: 64, channels: 3, background: { r: colour[0]!, g: colour[1]!, b: colour[2]! } } }).jpeg().toBuffer();
  };
  const frame = async (person: string): Promise<Frame> => {
    const data = await jpeg();
    people.set(keyOf(data), person);
    return { data, type: 'image/jpeg' };
  };

  return {
    parts: { face, he, custodian },
    frame,
    blank: async () => ({ data: await jpeg(), type: 'image/jpeg' }),
    enrollFrames: [await frame('alice'), await frame('alice'), await frame('alice')],
    sameFrames: [await frame('alice')],
    otherFrames: [await frame('bob')],
    async close() {
      custodian.close();
      he.close();
      await custodianProcess.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
