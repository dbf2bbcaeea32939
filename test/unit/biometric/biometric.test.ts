import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBiometricService, templateHash, type BiometricService, type CustodianPort, type FacePort, type StoredTemplate } from '../../../src/biometric/index.ts';
import { createTestKeys, randomDescriptor, type TestKeys } from '../../../support/he-keys.ts';

/**
 * The biometric service on fake ports (a test key owner plays the custodian): unknown usernames,
 * outdated and tampered templates all do the same work as a real attempt — a match and two
 * custodian calls, against a decoy — and are denied. The decoy follows the custodian's decoy key.
 */
let subjectKeys: TestKeys;
let decoyKeys: TestKeys;
let calls: string[] = [];
let service: BiometricService;
let stored: StoredTemplate | undefined;
const face = randomDescriptor(128);

beforeAll(async () => {
  [subjectKeys, decoyKeys] = await Promise.all([createTestKeys(), createTestKeys()]);
  // The probe is zeroed after each call: every call gets its own copy.
  const facePort: FacePort = { modelVersion: 'test-face-v1', enroll: async () => face.slice(), probe: async () => face.slice() };
  let bound: string | undefined;
  let nextTicket: 'subject' | 'decoy' = 'subject';
  const custodian: CustodianPort = {
    register: async () => { calls.push('register'); return { ...subjectKeys.key, paramsVersion: subjectKeys.params.version }; },
    activate: async (_subject, _keyId, hash) => { calls.push('activate'); bound = hash; },
    forget: async () => true,
    ticket: async (_subject, hash) => {
      calls.push('ticket');
      if (hash !== bound) throw new Error('template mismatch');
      nextTicket = 'subject';
      return { ticket: 't', key: subjectKeys.key, paramsVersion: subjectKeys.params.version };
    },
    decoy: async () => { calls.push('decoy'); nextTicket = 'decoy'; return { ticket: 'd', key: decoyKeys.key, paramsVersion: decoyKeys.params.version }; },
    judge: async (_ticket, blinded) => {
      calls.push('judge');
      if (nextTicket === 'decoy') { decoyKeys.judge.judge(blinded); return 'no_match'; }
      return subjectKeys.judge.judge(blinded) ? 'match' : 'no_match';
    },
  };
  service = createBiometricService({
    face: facePort,
    he: subjectKeys.rawEngine,
    custodian,
    threshold: 0.5,
    subjectKey: new Uint8Array(32),
    bindingKey: new Uint8Array(32).fill(7),
  });
  await service.enroll({ accountId: 'alice', frames: [new Uint8Array(1)], store: async (template, activate) => { stored = template; await activate(); } });
});
afterAll(() => {
  subjectKeys?.close();
  decoyKeys?.close();
});

const frames = [new Uint8Array(1)];
const verify = async (accountId: string | undefined, template: StoredTemplate | undefined) => {
  calls = [];
  const verdict = await service.verify({ accountId, template, frames });
  return { verdict, calls };
};

describe('the biometric service', () => {
  it('matches the enrolled face through ticket + judge', async () => {
    expect(stored!.mac).toHaveLength(32);
    expect(templateHash(stored!.ciphertext)).toMatch(/^[\w-]{43}$/);
    expect(await verify('alice', stored)).toEqual({ verdict: 'match', calls: ['ticket', 'judge'] });
  });

  it('does the same work for an unknown username, an outdated and a tampered template, and denies them', async () => {
    const same = ['decoy', 'judge'];
    expect(await verify(undefined, undefined)).toEqual({ verdict: 'no_template', calls: same });
    expect(await verify('alice', { ...stored!, modelVersion: 'older-model' })).toEqual({ verdict: 'outdated', calls: same });
    expect(await verify('alice', { ...stored!, mac: null })).toEqual({ verdict: 'outdated', calls: same });
    // Alice's row copied into Bob's account: the MAC names Alice.
    expect(await verify('bob', stored)).toEqual({ verdict: 'tampered', calls: same });
    const flipped = Uint8Array.from(stored!.mac!);
    flipped[0]! ^= 1;
    expect(await verify('alice', { ...stored!, mac: flipped })).toEqual({ verdict: 'tampered', calls: same });
  });

  it('makes a new decoy template when the decoy key changes (a custodian restart)', async () => {
    expect((await verify(undefined, undefined)).verdict).toBe('no_template');
    const other = await createTestKeys();
    const previous = decoyKeys;
    decoyKeys = other;
    try {
      expect((await verify(undefined, undefined)).verdict).toBe('no_template');
    } finally {
      decoyKeys = previous;
      other.close();
    }
  });
});

/**
 * Migration (issue 12): a template of a legacy face model is compared with a probe of that model
 * and its own threshold; after a match, and only then, a template of the current model is made
 * from copies of the same frames and handed to `renew`. A failed renewal leaves the sign-in as it is.
 */
describe('a template of a legacy face model', () => {
  const other = randomDescriptor(128);
  let probed: Array<string | undefined>;
  let probeWith: Float32Array;
  let renewalFrames: Uint8Array[];
  let enrollFails: boolean;
  // One custodian for both releases (it outlives the IdP's upgrade).
  let bound: string | undefined;
  const makeService = (modelVersion: string, legacy: FacePort['legacy']) => {
    let decoy = false;
    const custodian: CustodianPort = {
      register: async () => ({ ...subjectKeys.key, paramsVersion: subjectKeys.params.version }),
      activate: async (_subject, _keyId, hash) => { bound = hash; },
      forget: async () => true,
      ticket: async (_subject, hash) => {
        if (hash !== bound) throw new Error('template mismatch');
        decoy = false;
        return { ticket: 't', key: subjectKeys.key, paramsVersion: subjectKeys.params.version };
      },
      decoy: async () => { decoy = true; return { ticket: 'd', key: decoyKeys.key, paramsVersion: decoyKeys.params.version }; },
      judge: async (_ticket, blinded) => (decoy ? (decoyKeys.judge.judge(blinded), 'no_match') : subjectKeys.judge.judge(blinded) ? 'match' : 'no_match'),
    };
    const facePort: FacePort = {
      modelVersion,
      legacy,
      enroll: async (frames) => {
        renewalFrames = frames.map((f) => f.slice());
        if (enrollFails) throw new Error('no consensus');
        return face.slice();
      },
      probe: async (frames, version) => {
        probed.push(version);
        frames.forEach((f) => f.fill(0)); // as the engine does: it consumes the frames
        return probeWith.slice();
      },
    };
    return { service: createBiometricService({ face: facePort, he: subjectKeys.rawEngine, custodian, threshold: 0.01, subjectKey: new Uint8Array(32), bindingKey: new Uint8Array(32).fill(7) }), custodian };
  };

  const setUp = async () => {
    probed = [];
    probeWith = face;
    enrollFails = false;
    // Enrolled by the old release, verified by the new one (same keys and binding key).
    const { service: old } = makeService('model-old', []);
    let template: StoredTemplate | undefined;
    await old.enroll({ accountId: 'carol', frames: [new Uint8Array(3)], store: async (t, activate) => { template = t; await activate(); } });
    const { service: current } = makeService('model-new', [{ modelVersion: 'model-old', threshold: 0.5 }]);
    return { current, template: template! };
  };

  it('matches with a probe of its own model and threshold, then is renewed from copies of the same frames', async () => {
    const { current, template } = await setUp();
    expect(template.modelVersion).toBe('model-old');
    const renewed: StoredTemplate[] = [];
    const frames = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6), Uint8Array.of(7, 8, 9)];
    // Threshold 0.01 for the current model would refuse nothing here (same descriptor): the
    // legacy threshold is the one used, as a slightly different probe shows below.
    const verdict = await current.verify({ accountId: 'carol', template, frames, renew: async (t, activate) => { renewed.push(t); await activate(); } });
    expect(verdict).toBe('match');
    expect(probed).toEqual(['model-old']);
    expect(renewed.map((t) => t.modelVersion)).toEqual(['model-new']);
    expect(renewalFrames.map((f) => [...f])).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(current.legacyModelVersions).toEqual(['model-old']);
  });

  it('is judged with the legacy threshold, is not renewed without a match, and a failed renewal keeps the sign-in', async () => {
    const { current, template } = await setUp();
    let renewals = 0;
    const renew = async (_t: StoredTemplate, activate: () => Promise<void>) => { renewals += 1; await activate(); };
    probeWith = other; // another face
    expect(await current.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)], renew })).toBe('no_match');
    expect(renewals).toBe(0);
    // The renewal fails (no consensus among the frames; the database down): signed in all the same.
    probeWith = face;
    enrollFails = true;
    expect(await current.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)], renew })).toBe('match');
    enrollFails = false;
    expect(await current.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)], renew: async () => { throw new Error('database down'); } })).toBe('match');
    expect(renewals).toBe(0);
    // Close but not identical: inside the legacy threshold (0.5), far outside the current one (0.01).
    probeWith = Float32Array.from(face, (v, i) => v + (i % 2 ? 0.004 : -0.004));
    expect(await current.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)], renew })).toBe('match');
    expect(renewals).toBe(1);
    // Renewed: the custodian now knows only the new template; the old row is no longer accepted.
    await expect(current.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)], renew })).rejects.toThrow(/mismatch/);
  });

  it('is outdated once its model is no longer listed (denied, with the decoy work)', async () => {
    const { template } = await setUp();
    const { service: later } = makeService('model-newer', []);
    expect(await later.verify({ accountId: 'carol', template, frames: [new Uint8Array(3)] })).toBe('outdated');
  });
});
