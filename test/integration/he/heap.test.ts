import { afterAll, beforeAll, expect, it } from 'vitest';
import { sealHeapBytes } from '../../../src/he/keyside.ts';
import { createTestKeys, randomDescriptor, type TestKeys } from '../../../support/he-keys.ts';

let keys: TestKeys;
beforeAll(async () => {
  keys = await createTestKeys();
});
afterAll(() => keys?.close());

it('keeps the SEAL WASM heap flat over 10,000 match + judge rounds', async () => {
  const a = randomDescriptor(128);
  const b = randomDescriptor(128);
  const template = keys.engine.encryptTemplate(a);
  // Header intact (envelope + SEAL header), body garbage: SEAL itself throws, in C++.
  const headerEnd = 5 + template[4]! + 16;
  const corrupt = (blinded: Uint8Array) => Uint8Array.from(blinded, (byte, i) => (i < headerEnd ? byte : 0xff));
  // Warm up SEAL's memory pools, then measure.
  for (let i = 0; i < 200; i += 1) keys.judge.judge(keys.engine.matchAndBlind(template, i % 2 ? a : b, 0.5));
  const before = await sealHeapBytes();
  expect(before).toBeGreaterThan(0);
  for (let i = 0; i < 10_000; i += 1) {
    const blinded = keys.engine.matchAndBlind(template, i % 2 ? a : b, 0.5);
    expect(keys.judge.judge(blinded)).toBe(i % 2 === 1);
    if (i % 10 === 0) {
      // Error paths must free their objects too (and the C++ exception object).
      expect(() => keys.judge.judge(corrupt(blinded))).toThrow(expect.objectContaining({ code: 'he_bad_ciphertext' }));
    }
  }
  const after = await sealHeapBytes();
  // Without delete() the heap grew by 65-210 KB per match (BRIEF.md), i.e. > 600 MB here.
  expect(after - before).toBeLessThanOrEqual(1024 * 1024);
}, 180_000);
