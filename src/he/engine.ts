import { getRandomValues, randomInt } from 'node:crypto';
import { AppError } from '../shared/index.ts';
import { createHeContext } from './context.ts';
import { quantise, quantiseThreshold, squaredNorm } from './quantise.ts';
import { loadPublicKey, plaintextFromCoefficients, sealCall } from './seal.ts';

/**
 * The IdP's side of the match: public key only. One match is one plaintext multiplication and one
 * fresh encryption, in Z_t[x]/(x^N + 1) with coefficient encoding (no batching, no evaluation keys):
 *
 *   template  T(x) = sum_{i<D} t_i x^i + |t|^2 x^D                       (encrypted at enrollment)
 *   probe     P(x) = 2r p_0 - sum_{0<i<D} 2r p_i x^(N-i) + r x^(N-D)       (plaintext, r folded in)
 *   Since x^N = -1, coefficient 0 of T*P is 2r <t,p> - r |t|^2.
 *   mask      M(x) = r (tau - 1 - |p|^2) + e + sum_{0<j<N} u_j x^j          (u_j uniform mod t)
 *   result    Enc(T) * P + Enc_pk(M):  coefficient 0 = r (tau - 1 - d) + e,  d = |t - p|^2
 *
 * With 1 <= r <= rMax, 0 <= e < r and 0 <= d <= 4L, |r (tau - 1 - d) + e| <= rMax 4L <= t/2, so the
 * centred coefficient 0 is >= 0 iff tau - 1 - d >= 0 iff d < tau (exactly `plainDecision`). The other
 * coefficients hold cross terms of template and probe; u_j is a one-time pad over them.
 *
 * Multiplicative blinding hides tau - 1 - d only up to the factor r: a curious custodian learns
 * its sign (the intended bit) and its order of magnitude within a factor rMax = 128, never d itself.
 *
 * Adding M as a fresh public-key encryption re-randomises the ciphertext: its c1 is a fresh RLWE
 * sample, so the result cannot be linked to the template ciphertext. It does NOT flood the noise:
 * the key owner can compute the decryption noise, which is dominated by t * E_T * P (E_T the
 * template's encryption noise, ~2^25 per coefficient here) next to a fresh ~2^10, so it carries
 * statistical information about P. Full circuit privacy needs noise flooding (tens of extra bits of
 * q, beyond what N = 2048 allows at 128-bit security) or a larger ring; we accept this residual
 * leakage towards the custodian, which never sees templates.
 */
/**
 * A public key of one of the custodian's key pairs (one per enrolled subject) and the key's id (16
 * bytes): the id is stamped on every template and result made with it and checked on every load.
 */
export interface HeKey {
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

export interface HeEngine {
  readonly paramsVersion: string;
  /** Quantises and encrypts an enrollment descriptor under the subject's public key. */
  encryptTemplate(descriptor: Float32Array, key: HeKey): Uint8Array;
  /**
   * Match and blind: the result is all the custodian needs to answer match / no match. `key` is
   * the template's own key (a fresh public key of it comes with each judge ticket).
   */
  matchAndBlind(template: Uint8Array, probe: Float32Array, threshold: number, key: HeKey): Uint8Array;
  close(): void;
}

export interface HeEngineOptions {
  params?: string;
}

const mod = (value: number, modulus: number) => ((value % modulus) + modulus) % modulus;

/** Uniform values in [0, modulus) by rejection sampling from crypto-random 32-bit words. */
function uniformModulo(out: Uint32Array, from: number, modulus: number): void {
  const limit = 2 ** 32 - (2 ** 32 % modulus);
  getRandomValues(out.subarray(from));
  const spare = new Uint32Array(1);
  for (let j = from; j < out.length; j += 1) {
    let value = out[j]!;
    while (value >= limit) value = getRandomValues(spare)[0]!;
    out[j] = value % modulus;
  }
}

export async function createHeEngine(options: HeEngineOptions = {}): Promise<HeEngine> {
  const he = await createHeContext(options.params);
  const { seal, context, params } = he;
  const { polyModulusDegree: n, plainModulus: t, dimension: d } = params;
  const evaluator = new seal.Evaluator(context);
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new AppError('he_closed', 'The HE engine is closed.');
  };

  /** An encryptor for `key`, freed after `use` (loading a seeded public key costs ~0.4 ms). */
  function withEncryptor<T>(key: HeKey, use: (encrypt: (coefficients: Uint32Array) => ReturnType<typeof encryptWith>) => T): T {
    const publicKey = loadPublicKey(seal, context, params, key.publicKey);
    const encryptor = new seal.Encryptor(context, publicKey);
    try {
      return use((coefficients) => encryptWith(encryptor, coefficients));
    } finally {
      encryptor.delete();
      publicKey.delete();
    }
  }

  function encryptWith(encryptor: InstanceType<typeof seal.Encryptor>, coefficients: Uint32Array) {
    const plaintext = plaintextFromCoefficients(seal, context, coefficients);
    const ciphertext = new seal.Ciphertext();
    try {
      sealCall(seal, 'he_internal', 'Encryption failed.', () => encryptor.encrypt(plaintext, ciphertext));
      return ciphertext;
    } catch (error) {
      ciphertext.delete();
      throw error;
    } finally {
      plaintext.delete();
    }
  }

  /** A copy of the key id, checked to be 16 bytes (the envelope's field). */
  const keyIdOf = (key: HeKey) => {
    if (!(key?.keyId instanceof Uint8Array) || key.keyId.byteLength !== 16) throw new AppError('he_bad_key_id', 'A key id is 16 bytes.');
    return Uint8Array.from(key.keyId);
  };

  return {
    paramsVersion: params.version,

    encryptTemplate(descriptor, key) {
      ensureOpen();
      const keyId = keyIdOf(key);
      const q = quantise(descriptor, params);
      const coefficients = new Uint32Array(n);
      try {
        for (let i = 0; i < d; i += 1) coefficients[i] = mod(q[i]!, t);
        coefficients[d] = squaredNorm(q);
        return withEncryptor(key, (encrypt) => {
          const ciphertext = encrypt(coefficients);
          try {
            return he.saveCiphertext(ciphertext, 'template', keyId);
          } finally {
            ciphertext.delete();
          }
        });
      } finally {
        q.fill(0);
        coefficients.fill(0);
      }
    },

    matchAndBlind(template, probe, threshold, key) {
      ensureOpen();
      const keyId = keyIdOf(key);
      const tau = quantiseThreshold(threshold, params);
      const p = quantise(probe, params);
      const probePoly = new Uint32Array(n);
      const mask = new Uint32Array(n);
      const handles: { delete(): void }[] = [];
      try {
        const stored = he.loadCiphertext(template, 'template', keyId);
        handles.push(stored);
        const r = randomInt(1, params.blindingMax + 1);
        const e = randomInt(0, r);
        probePoly[0] = mod(2 * r * p[0]!, t);
        for (let i = 1; i < d; i += 1) probePoly[n - i] = mod(-2 * r * p[i]!, t);
        probePoly[n - d] = mod(r, t);
        uniformModulo(mask, 1, t);
        mask[0] = mod(r * (tau - 1 - squaredNorm(p)) + e, t);

        const probePlain = plaintextFromCoefficients(seal, context, probePoly);
        handles.push(probePlain);
        const product = new seal.Ciphertext();
        handles.push(product);
        sealCall(seal, 'he_internal', 'Homomorphic multiplication failed.', () => evaluator.multiplyPlain(stored, probePlain, product));
        const maskCipher = withEncryptor(key, (encrypt) => encrypt(mask));
        handles.push(maskCipher);
        sealCall(seal, 'he_internal', 'Homomorphic addition failed.', () => evaluator.addInplace(product, maskCipher));
        return he.saveCiphertext(product, 'blinded', keyId);
      } finally {
        for (const handle of handles) handle.delete();
        p.fill(0);
        probePoly.fill(0);
        mask.fill(0);
      }
    },

    close() {
      if (closed) return;
      closed = true;
      evaluator.delete();
      he.close();
    },
  };
}
