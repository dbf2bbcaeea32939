import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeEngine } from '../../../src/he/index.ts';
import { isWasmTrap } from '../../../src/he/keyside.ts';
import { isAppError } from '../../../src/shared/index.ts';
import { errorCode } from '../../../support/errors.ts';
import { createTestKeys, randomDescriptor, type TestKeys } from '../../../support/he-keys.ts';

let keys: TestKeys;
let template: Uint8Array;
let blinded: Uint8Array;
const probe = randomDescriptor(128);

beforeAll(async () => {
  keys = await createTestKeys();
  template = keys.engine.encryptTemplate(probe);
  blinded = keys.engine.matchAndBlind(template, probe, 0.5);
});
afterAll(() => keys?.close());

const withVersion = (envelope: Uint8Array, version: string) => {
  const oldLength = envelope[4]!;
  const v = Buffer.from(version, 'latin1');
  return Uint8Array.from(Buffer.concat([Buffer.from(envelope.subarray(0, 4)), Buffer.from([v.length]), v, Buffer.from(envelope.subarray(5 + oldLength))]));
};

describe('ciphertext envelopes', () => {
  it('carry the parameter version and role; refuse other versions and roles', () => {
    expect(Buffer.from(template.subarray(0, 3)).toString()).toBe('FHE');
    expect(errorCode(() => keys.engine.matchAndBlind(withVersion(template, 'bgv-2048-v2'), probe, 0.5))).toBe('he_params_mismatch');
    expect(errorCode(() => keys.engine.matchAndBlind(blinded, probe, 0.5))).toBe('he_bad_ciphertext');
    expect(errorCode(() => keys.judge.judge(template))).toBe('he_bad_ciphertext');
    expect(errorCode(() => keys.judge.judge(withVersion(blinded, 'ckks-8192-v1')))).toBe('he_params_mismatch');
    expect(keys.judge.judge(blinded)).toBe(true);
  });

  it('refuse truncated, oversized, empty and garbage input with typed errors', () => {
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      blinded.subarray(0, 20),
      blinded.subarray(0, blinded.length - 1),
      Uint8Array.from([...blinded, 0]),
      new Uint8Array(keys.params.maxCiphertextBytes + 100).fill(7),
      // Header (magic, kind, version, key id) intact, the SEAL body garbage.
      Uint8Array.from(Buffer.concat([Buffer.from(blinded.subarray(0, 32)), Buffer.alloc(blinded.length - 32, 0xff)])),
    ];
    for (const bytes of cases) expect(errorCode(() => keys.judge.judge(bytes))).toBe('he_bad_ciphertext');
  });

  it('never crash or leak a non-typed error on corrupted ciphertexts (byte flips)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const bytes = Uint8Array.from(blinded);
        for (const [position, mask] of flips) bytes[position % bytes.length]! ^= mask;
        try {
          expect(typeof keys.judge.judge(bytes)).toBe('boolean'); // ciphertexts are not authenticated
        } catch (error) {
          expect(isWasmTrap(error)).toBe(false);
          expect(isAppError(error)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    expect(keys.judge.judge(blinded)).toBe(true);
  });

  it('refuses malformed public keys and key ids, unknown parameter sets, and use after close', async () => {
    expect(errorCode(() => keys.rawEngine.encryptTemplate(probe, { publicKey: new Uint8Array(100), keyId: keys.keyId }))).toBe('he_bad_public_key');
    expect(errorCode(() => keys.rawEngine.matchAndBlind(template, probe, 0.5, { publicKey: keys.publicKey.subarray(0, 200), keyId: keys.keyId }))).toBe('he_bad_public_key');
    expect(errorCode(() => keys.rawEngine.encryptTemplate(probe, { publicKey: keys.publicKey, keyId: keys.keyId.subarray(0, 8) }))).toBe('he_bad_key_id');
    await expect(createHeEngine({ params: 'nope' })).rejects.toMatchObject({ code: 'he_params_unknown' });
    const engine = await createHeEngine();
    engine.close();
    expect(errorCode(() => engine.encryptTemplate(probe, keys.key))).toBe('he_closed');
  });
});

describe('key ids', () => {
  it('a template or result made under another custodian key is refused, never judged (it would be a coin flip)', async () => {
    const first = await createTestKeys();
    const second = await createTestKeys();
    try {
      const face = randomDescriptor(128);
      const template = first.engine.encryptTemplate(face);
      // The same person's face: under the right key a match, under another key refused.
      expect(first.judge.judge(first.engine.matchAndBlind(template, face, 0.5))).toBe(true);
      expect(errorCode(() => second.engine.matchAndBlind(template, face, 0.5))).toBe('he_key_mismatch');
      expect(errorCode(() => second.judge.judge(first.engine.matchAndBlind(template, face, 0.5)))).toBe('he_key_mismatch');
    } finally {
      first.close();
      second.close();
    }
  });
});
