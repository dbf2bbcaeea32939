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
