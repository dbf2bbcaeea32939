import { createHash } from 'node:crypto';
import type { CustodianLink } from '../../src/app.ts';
import type { FacePort, HePort } from '../../src/biometric/index.ts';
import { AppError } from '../../src/shared/index.ts';

/**
 * Unit-test fakes only (never used by the end-to-end or protocol suites): a "face engine" whose
 * descriptor is the first byte of the frame, and a plaintext "HE" whose verdict is computed by the
 * fake custodian. They let the OIDC plumbing be tested in milliseconds.
 */
export function fakeFace(): FacePort {
  const describe = (frames: Uint8Array[]) => {
    if (frames.length === 0) throw new AppError('no_face', 'No face.', { status: 422 });
    const first = frames[0]!;
    if (first[0] === 0) throw new AppError('no_face', 'No face was found in the picture.', { status: 422 });
    return Float32Array.of(first[0]!);
  };
  return { modelVersion: 'fake-v1', enroll: async (frames) => describe(frames), probe: async (frames) => describe(frames) };
}

export function fakeHe(): HePort {
  return {
    paramsVersion: 'fake-he-v1',
    encryptTemplate: (descriptor) => Uint8Array.of(descriptor[0]!),
    matchAndBlind: (template, probe) => Uint8Array.of(template[0] === probe[0] ? 1 : 0),
  };
}

export function fakeCustodian(options: { down?: () => boolean } = {}): CustodianLink {
  const check = () => {
    if (options.down?.()) throw new AppError('custodian_unavailable', 'The key custodian is unavailable.', { status: 503 });
  };
  return {
    async publicKey() {
      check();
      return { paramsVersion: 'fake-he-v1', publicKey: createHash('sha256').update('pk').digest(), keyId: new Uint8Array(16) };
    },
    async issueTicket() {
      check();
      return 'ticket';
    },
    async judge(_ticket, blinded) {
      check();
      return blinded[0] === 1 ? 'match' : 'no_match';
    },
    async health() {
      check();
      return { ok: true };
    },
  };
}
