import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBiometricService, type BiometricService, type CustodianPort, type FacePort } from '../../../src/biometric/index.ts';
import { createTestKeys, randomDescriptor, type TestKeys } from '../he/helpers.ts';

/**
 * Unknown usernames are verified against a decoy template, so that the outcome does not tell
 * whether the account exists. The decoy is encrypted under the custodian's key: after a key change
 * (same HE parameters, new key id) it must be made again, or unknown usernames would fail with
 * he_key_mismatch while known ones get a denial (a username oracle).
 */
let first: TestKeys;
let second: TestKeys;
let current: TestKeys;
let service: BiometricService;
const face = randomDescriptor(128);

beforeAll(async () => {
  [first, second] = await Promise.all([createTestKeys(), createTestKeys()]);
  current = first;
  // The probe is zeroed after each call: every call gets its own copy.
  const facePort: FacePort = { modelVersion: 'test-face-v1', enroll: async () => face.slice(), probe: async () => face.slice() };
  const custodian: CustodianPort = {
    issueTicket: async () => 'ticket',
    judge: async (_ticket, blinded) => (current.judge.judge(blinded) ? 'match' : 'no_match'),
  };
  service = createBiometricService({
    face: facePort,
    // Like services.ts after resetHe: a new engine for the new key, with the same paramsVersion.
    he: async () => current.engine,
    custodian,
    threshold: 0.5,
    subjectKey: new Uint8Array(32),
  });
});
afterAll(() => {
  first?.close();
  second?.close();
});

describe('the decoy template', () => {
  it('gives unknown usernames the same outcome before and after a custodian key change', async () => {
    const frames = [new Uint8Array(1)];
    const template = await service.enroll(frames);
    expect(await service.verify({ accountId: 'alice', template, frames })).toBe('match');
    expect(await service.verify({ accountId: undefined, template: undefined, frames })).toBe('no_template');

    current = second;
    expect(second.engine.paramsVersion).toBe(first.engine.paramsVersion);
    // A known user's template was made under the old key: a denial, not an error...
    expect(await service.verify({ accountId: 'alice', template, frames })).toBe('outdated');
    // ...and so is an unknown username: the decoy follows the engine's key.
    expect(await service.verify({ accountId: undefined, template: undefined, frames })).toBe('no_template');
    expect(await service.verify({ accountId: 'bob', template: undefined, frames })).toBe('no_template');
  });
});
