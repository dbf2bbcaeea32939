import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../shared/index.ts';

/**
 * AES-256-GCM sealing of secrets at rest (signing keys, client secrets, TOTP secrets).
 * Layout: version byte | 12-byte nonce | ciphertext | 16-byte tag. The associated data names
 * what the blob is and whose it is (e.g. `signing-key:<kid>`), so a sealed value copied into
 * another row or used for another purpose fails to open (NIST SP 800-38D, section 5.2.1).
 */
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealer {
  seal(plaintext: Uint8Array, context: string): Buffer;
  open(sealed: Uint8Array, context: string): Buffer;
}

export function createSealer(key: Uint8Array): Sealer {
  if (key.byteLength !== 32) {
    throw new AppError('sealing_key_invalid', 'The sealing key must be 32 bytes.');
  }
  const keyBuffer = Buffer.from(key);
  return {
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyBuffer, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]);
    },
    open(sealed, context) {
      const blob = Buffer.from(sealed);
      if (blob.length < 1 + NONCE_BYTES + TAG_BYTES || blob[0] !== VERSION) {
        throw new AppError('sealed_value_invalid', 'A sealed value is malformed.');
      }
      const nonce = blob.subarray(1, 1 + NONCE_BYTES);
      const tag = blob.subarray(blob.length - TAG_BYTES);
      const body = blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', keyBuffer, nonce);
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch (cause) {
        throw new AppError('sealed_value_invalid', 'A sealed value failed authentication (wrong key or tampered).', { cause });
      }
    },
  };
}

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    sealed_value_invalid: true;
    sealing_key_invalid: true;
  }
}
