import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../../src/sealing/index.ts';

describe('sealing (AES-256-GCM at rest)', () => {
  const sealer = createSealer(randomBytes(32));

  it('round-trips and never contains the plaintext', () => {
    const secret = Buffer.from('a very secret signing key');
    const sealed = sealer.seal(secret, 'signing-key:1');
    expect(sealed.includes(secret)).toBe(false);
    expect(sealer.open(sealed, 'signing-key:1').equals(secret)).toBe(true);
  });

  it('refuses another context, another key, a flipped bit, and garbage', () => {
    const sealed = sealer.seal(Buffer.from('x'), 'client-secret:a');
    expect(() => sealer.open(sealed, 'client-secret:b')).toThrow(expect.objectContaining({ code: 'sealed_value_invalid' }));
    expect(() => createSealer(randomBytes(32)).open(sealed, 'client-secret:a')).toThrow(expect.objectContaining({ code: 'sealed_value_invalid' }));
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20]! ^= 1;
    expect(() => sealer.open(flipped, 'client-secret:a')).toThrow(expect.objectContaining({ code: 'sealed_value_invalid' }));
    expect(() => sealer.open(Buffer.from([1, 2, 3]), 'client-secret:a')).toThrow(expect.objectContaining({ code: 'sealed_value_invalid' }));
  });

  it('refuses keys of the wrong size', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(expect.objectContaining({ code: 'sealing_key_invalid' }));
  });
});
