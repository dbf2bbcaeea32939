import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCustodian, type SpawnedCustodian } from '../src/custodian/index.ts';
import { createFaceEngine, type FaceEngine } from '../src/face/index.ts';
import { createHeEngine } from '../src/he/index.ts';
import { demoFaces, facesDir, loadFace, webcamFrame } from './faces.ts';
import type { Parts } from './idp.ts';
import type { Frame } from './signin.ts';

/**
 * The real biometric parts for HTTP and browser tests: the face engine (WASM models in worker
 * threads), the key custodian as its own process, and the HE engine built from its public key.
 */
export interface PartsHandle {
  parts: Parts;
  /** The running custodian process (replaced by restartCustodian). */
  custodian: SpawnedCustodian;
  /** Kills the custodian process (as in a crash); the IdP's client stays and will reconnect. */
  killCustodian(): Promise<void>;
  /** Starts the custodian again on the same socket and key directory (same key). */
  restartCustodian(): Promise<void>;
  face: FaceEngine;
  people: People;
  /** Shorthands for the protocol tests: person A's enrollment, A again (other photos), person B. */
  enrollFrames: Frame[];
  sameFrames: Frame[];
  otherFrames: Frame[];
  /** Person B's enrollment. */
  otherEnrollFrames: Frame[];
  close(): Promise<void>;
}

export interface People {
  /** Where the photos come from: the shared research photos, or face-api's demo photos. */
  source: 'faces-dir' | 'face-api-demo';
  a: { enroll: Buffer[]; verify: Buffer[] };
  b: Buffer[];
  /** Person B's own enrollment frames (other photos of B). */
  bEnroll: Buffer[];
}

/** A JPEG frame as the pages upload it. */
export const jpeg = (data: Buffer): Frame => ({ data, type: 'image/jpeg' });

let peopleOnce: Promise<People> | undefined;

/**
 * Two people as 640x480 webcam-like frames. With FACES_DIR: George W. Bush (enrolled from three photos,
 * verified with others) and Putin, from LFW. Without it (a fresh machine), crops of face-api's demo photos:
 * person A enrolled from the crop at several placements and verified at others, person B another face.
 * Made once per process and shared by every caller: read the buffers, never change them.
 */
export function people(): Promise<People> {
  peopleOnce ??= makePeople();
  return peopleOnce;
}

async function makePeople(): Promise<People> {
  if (facesDir()) {
    return {
      source: 'faces-dir',
      a: {
        enroll: await Promise.all([1, 2, 3].map((n) => webcamFrame(loadFace('George_W_Bush', n), { height: 420 }))),
        verify: await Promise.all([5, 7].map((n) => webcamFrame(loadFace('George_W_Bush', n), { height: 400, centerX: 300 }))),
      },
      b: [await webcamFrame(loadFace('Vladimir_Putin', 1), { height: 420 })],
      bEnroll: await Promise.all([2, 3, 4].map((n) => webcamFrame(loadFace('Vladimir_Putin', n), { height: 420 }))),
    };
  }
  const faces = await demoFaces();
  const a = faces[0]!.image;
  return {
    source: 'face-api-demo',
    a: {
      enroll: await Promise.all([{ height: 440 }, { height: 400, centerX: 300 }, { height: 420, centerX: 340 }].map((o) => webcamFrame(a, o))),
      verify: await Promise.all([{ height: 380, centerX: 330, centerY: 250 }, { height: 430, mirror: true }].map((o) => webcamFrame(a, o))),
    },
    b: [await webcamFrame(faces[4]!.image, { height: 420 })],
    bEnroll: await Promise.all([{ height: 440 }, { height: 400, centerX: 300 }, { height: 420, centerX: 340 }].map((o) => webcamFrame(faces[4]!.image, o))),
  };
}

export async function realParts(options: { custodianEnv?: Record<string, string>; workers?: number } = {}): Promise<PartsHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'faceid-parts-'));
  const spawnOptions = {
    keyDir: join(dir, 'custodian'),
    socketPath: join(dir, 'custodian.sock'),
    sharedSecret: randomBytes(32).toString('base64url'),
    demo: true,
    // Tests sign the same person in many times a minute; production keeps the defaults.
    env: {
      CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '10000',
      CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '100000',
      CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '100000',
      CUSTODIAN_REGISTRATIONS_PER_HOUR: '100000',
      CUSTODIAN_REGISTRATIONS_PER_DAY: '100000',
      CUSTODIAN_SUBJECT_REGISTRATIONS_PER_DAY: '1000',
      CUSTODIAN_FORGETS_PER_HOUR: '100000',
      CUSTODIAN_BURST_ALERT_COUNT: '100000',
      CUSTODIAN_LOG_LEVEL: 'warn',
      ...options.custodianEnv,
    },
  };
  const custodian = await spawnCustodian(spawnOptions);
  const face = await createFaceEngine({ workers: options.workers ?? 1 });
  const he = await createHeEngine();
  const who = await people();
  const handle: PartsHandle = {
    parts: {
      face,
      custodian: custodian.client,
      he,
    },
    custodian,
    async killCustodian() {
      await handle.custodian.kill();
    },
    async restartCustodian() {
      // The new process gets its own client; the IdP keeps the first one, which reconnects.
      const next = await spawnCustodian(spawnOptions);
      next.client.close();
      handle.custodian = next;
    },
    face,
    people: who,
    enrollFrames: who.a.enroll.map(jpeg),
    sameFrames: who.a.verify.slice(0, 1).map(jpeg),
    otherFrames: who.b.map(jpeg),
    otherEnrollFrames: who.bEnroll.map(jpeg),
    async close() {
      custodian.client.close();
      await handle.custodian.stop();
      he.close();
      await face.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
