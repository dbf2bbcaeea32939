import type { SecretKey } from 'node-seal';
import { centredCoefficient, sealCall, type HeContext } from '../../he/keyside.ts';

/**
 * The only decryption in the system: a blinded match result becomes one bit. Coefficient 0 is
 * r (tau - 1 - d) + e (src/he/engine.ts), non-negative iff d < tau. The value itself never leaves
 * this function; the plaintext is zeroed in the WASM heap before it is freed.
 */
export interface Judge {
  /**
   * true = match. The blinded envelope must carry `keyId` (the key the ticket was issued under):
   * a result made for another key is refused (he_key_mismatch), never decrypted. Throws
   * he_bad_ciphertext / he_params_mismatch for unusable input.
   */
  judge(blinded: Uint8Array, secretKey: SecretKey, keyId: Uint8Array): boolean;
}

export function createJudge(he: HeContext): Judge {
  const { seal, context, params } = he;
  return {
    judge(blinded, secretKey, keyId) {
      const ciphertext = he.loadCiphertext(blinded, 'blinded', keyId);
      const decryptor = new seal.Decryptor(context, secretKey);
      const plaintext = new seal.Plaintext();
      try {
        sealCall(seal, 'he_bad_ciphertext', 'The blinded ciphertext cannot be decrypted.', () => decryptor.decrypt(ciphertext, plaintext));
        return centredCoefficient(seal, plaintext, 0, params.plainModulus) >= 0;
      } finally {
        plaintext.setZero();
        plaintext.delete();
        decryptor.delete();
        ciphertext.delete();
      }
    },
  };
}
