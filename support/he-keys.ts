import type { SecretKey } from 'node-seal';
import { createHeEngine, type HeEngine, type HeKey, type HeParams } from '../src/he/index.ts';
import { createHeContext, savePublicKey, type HeContext } from '../src/he/keyside.ts';
import { createJudge } from '../src/custodian/internal/judge.ts';
import { keyIdOf } from '../src/custodian/internal/keys.ts';

/** The engine with one key bound in (tests of one key pair). */
export interface BoundEngine {
  readonly paramsVersion: string;
  encryptTemplate(descriptor: Float32Array): Uint8Array;
  matchAndBlind(template: Uint8Array, probe: Float32Array, threshold: number): Uint8Array;
}

/**
 * Test-only key owner: the engine under test plus what only the custodian may do (judge), and what
 * nobody may do outside tests (read every decrypted coefficient, measure the noise budget).
 */
export interface TestKeys {
  he: HeContext;
  params: HeParams;
  /** The real engine (every call takes a key) and the same bound to this key pair. */
  rawEngine: HeEngine;
  engine: BoundEngine;
  key: HeKey;
  judge: { judge(blinded: Uint8Array): boolean };
  secretKey: SecretKey;
  publicKey: Uint8Array;
  keyId: Uint8Array;
  /** Centred coefficients of the decrypted blinded result, and SEAL's invariant noise budget. */
  inspect(blinded: Uint8Array): { coefficients: number[]; budgetBits: number };
  close(): void;
}

export async function createTestKeys(version?: string): Promise<TestKeys> {
  const he = await createHeContext(version);
  const { seal, context, params } = he;
  const generator = new seal.KeyGenerator(context);
  const secretKey = generator.secretKey();
  const pk = generator.createPublicKey();
  const publicKey = savePublicKey(seal, pk);
  pk.delete();
  generator.delete();
  const keyId = keyIdOf(he, secretKey);
  const key = { publicKey, keyId };
  const rawEngine = await createHeEngine({ params: params.version });
  const rawJudge = createJudge(he);
  const decryptor = new seal.Decryptor(context, secretKey);
  return {
    he,
    params,
    rawEngine,
    key,
    engine: {
      paramsVersion: rawEngine.paramsVersion,
      encryptTemplate: (descriptor) => rawEngine.encryptTemplate(descriptor, key),
      matchAndBlind: (template, probe, threshold) => rawEngine.matchAndBlind(template, probe, threshold, key),
    },
    judge: { judge: (blinded) => rawJudge.judge(blinded, secretKey, keyId) },
    secretKey,
    publicKey,
    keyId,
    inspect(blinded) {
      const ciphertext = he.loadCiphertext(blinded, 'blinded', keyId);
      const plaintext = new seal.Plaintext();
      try {
        decryptor.decrypt(ciphertext, plaintext);
        const budgetBits = decryptor.invariantNoiseBudget(ciphertext);
        const bytes = plaintext.saveToArray(seal.ComprModeType.none) as Uint8Array;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const dataOffset = 16 + 32 + 8 + 8 + 16 + 8; // see src/he/seal.ts
        const count = Number(view.getBigUint64(dataOffset - 8, true));
        const t = params.plainModulus;
        const coefficients = Array.from({ length: params.polyModulusDegree }, (_, i) => {
          if (i >= count) return 0;
          const value = Number(view.getBigUint64(dataOffset + 8 * i, true));
          return value >= t / 2 ? value - t : value;
        });
        return { coefficients, budgetBits };
      } finally {
        plaintext.delete();
        ciphertext.delete();
      }
    },
    close() {
      rawEngine.close();
      decryptor.delete();
      secretKey.delete();
      he.close();
    },
  };
}

/** A descriptor-like vector: elements uniform in [-spread, spread], rescaled to `norm` if given. */
export function randomDescriptor(dimension: number, random: () => number = Math.random, spread = 0.18, norm?: number): Float32Array {
  const v = new Float32Array(dimension);
  for (let i = 0; i < dimension; i += 1) v[i] = (random() * 2 - 1) * spread;
  if (norm !== undefined) {
    const current = Math.hypot(...v);
    for (let i = 0; i < dimension; i += 1) v[i] = (v[i]! / current) * norm;
  }
  return v;
}
