import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretKey } from 'node-seal';
import { AppError, deriveKey, type Logger } from '../../shared/index.ts';
import { plainBytes, sealCall, type HeContext } from '../../he/keyside.ts';

/**
 * Key material of the custodian. Every enrolled subject has its own BGV key pair: a template is
 * encrypted under its subject's public key, and a judge ticket decrypts with that subject's secret
 * key only. So a compromised web tier that copies a victim's template under a subject it made up
 * gains nothing: decrypted under another subject's key, anything derived from that template is a
 * uniformly random value, not a bit about the victim. The only usable oracle on a template is its
 * own subject's budget (see budget.ts).
 *
 * A secret key is sealed at rest with AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF
 * (RFC 5869) from the custodian's sealing key; the associated data names the subject, the key id
 * and the parameter set, so a sealed key copied to another subject's row does not open.
 *
 * The key id is derived from the secret key itself (a hash of its serialisation), not kept as a
 * label beside it: a foreign key file cannot claim another key's id, and a loaded key whose id
 * does not match the one it was registered with is refused.
 */
export interface SubjectKeyPair {
  readonly secretKey: SecretKey;
  readonly keyId: Buffer;
}

const KEY_ID_BYTES = 16;

const insecure = (what: string) => new AppError('custodian_key_store_insecure', `${what} must not be accessible to group or others.`);

export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new AppError('custodian_key_store_invalid', `${dir} is not a directory.`);
  if ((stat.mode & 0o077) !== 0) throw insecure(`The key directory ${dir}`);
}

function checkPrivateFile(path: string): void {
  if ((statSync(path).mode & 0o077) !== 0) throw insecure(`The key file ${path}`);
}

/** Writes `data` to `path` (mode 0600) atomically: temporary file, fsync, rename. */
function writePrivateFile(path: string, data: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/**
 * The configured sealing key, or in demo mode one generated once into the key directory (the
 * custodian's own directory: in the demo the whole trust zone is that one directory).
 */
export function resolveSealingKey(keyDir: string, configured: Buffer | undefined, logger: Logger): Buffer {
  if (configured) return configured;
  const path = join(keyDir, 'sealing.key');
  logger.warn(
    '!!! DEMO MODE: the sealing key of the HE secret keys is stored next to them in the key directory. ' +
      'Anyone who can read that directory can decrypt every face template stored by the IdP. Set CUSTODIAN_SEALING_KEY in production. !!!',
  );
  if (existsSync(path)) {
    checkPrivateFile(path);
    const key = readFileSync(path);
    if (key.length !== 32) throw new AppError('custodian_key_store_invalid', 'The demo sealing key file is corrupt.');
    return key;
  }
  const key = randomBytes(32);
  writePrivateFile(path, key);
  return key;
}

/** The custodian's keys derived from its sealing key (same derivation as the IdP's, its own labels). */
export const deriveCustodianKey = (sealingKey: Buffer, purpose: 'subject-keys' | 'store-canary' | 'audit-subject') => deriveKey(sealingKey, `custodian:${purpose}`);

/** The id of a secret key: the first 16 bytes of SHA-256 over a domain label and its serialisation. */
export function keyIdOf(he: HeContext, secretKey: SecretKey): Buffer {
  const raw = sealCall(he.seal, 'he_internal', 'Could not serialise a secret key.', () => secretKey.saveToArray(he.seal.ComprModeType.none) as Uint8Array);
  try {
    return createHash('sha256').update('faceid-fhe/key-id/v1\0').update(raw).digest().subarray(0, KEY_ID_BYTES);
  } finally {
    raw.fill(0);
  }
}

export function generateKeyPair(he: HeContext): SubjectKeyPair {
  const generator = new he.seal.KeyGenerator(he.context);
  try {
    const secretKey = generator.secretKey();
    try {
      return { secretKey, keyId: keyIdOf(he, secretKey) };
    } catch (error) {
      secretKey.delete();
      throw error;
    }
  } finally {
    generator.delete();
  }
}

/**
 * A fresh public key for a secret key, in SEAL's seeded form (half the bytes: the uniform part is
 * expanded from a seed on load). Any public key of a secret key encrypts for it; a new one per
 * ticket costs ~1 ms and keeps nothing else on disk.
 */
export function publicKeyFor(he: HeContext, secretKey: SecretKey): Uint8Array {
  const generator = new he.seal.KeyGenerator(he.context, secretKey);
  try {
    const serializable = generator.createPublicKeySerializable();
    try {
      return sealCall(he.seal, 'he_internal', 'Could not serialise a public key.', () => serializable.saveToArray(he.seal.ComprModeType.zstd) as Uint8Array);
    } finally {
      serializable.delete();
    }
  } finally {
    generator.delete();
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const aad = (subject: string, keyId: Uint8Array, paramsVersion: string) =>
  Buffer.from(`faceid-fhe/subject-key/v1\0${subject}\0${Buffer.from(keyId).toString('hex')}\0${paramsVersion}`, 'utf8');

/** Seals and opens subject secret keys with AES-256-GCM; the caller deletes what `open` returns. */
export interface KeySealer {
  /**
   * A value sealed under this sealing key (made once per store): a store opened with another
   * sealing key is refused at start, not at every sign-in.
   */
  canary(): Buffer;
  checkCanary(sealed: Uint8Array): boolean;
  seal(he: HeContext, pair: SubjectKeyPair, subject: string): Buffer;
  /** Opens, loads and checks the key id; throws custodian_key_store_invalid on any mismatch. */
  open(he: HeContext, sealed: Uint8Array, subject: string, keyId: Uint8Array): SecretKey;
}

export function createKeySealer(sealingKey: Buffer): KeySealer {
  const fileKey = deriveCustodianKey(sealingKey, 'subject-keys');
  const canaryKey = deriveCustodianKey(sealingKey, 'store-canary');
  const CANARY = Buffer.from('faceid-fhe custodian store', 'utf8');
  return {
    canary() {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', canaryKey, iv);
      const body = Buffer.concat([cipher.update(CANARY), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    checkCanary(sealed) {
      const blob = Buffer.from(sealed);
      try {
        const decipher = createDecipheriv('aes-256-gcm', canaryKey, blob.subarray(0, IV_BYTES));
        decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).equals(CANARY);
      } catch {
        return false;
      }
    },
    seal(he, pair, subject) {
      const raw = sealCall(he.seal, 'he_internal', 'Could not serialise a secret key.', () => pair.secretKey.saveToArray(he.seal.ComprModeType.none) as Uint8Array);
      try {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', fileKey, iv);
        cipher.setAAD(aad(subject, pair.keyId, he.params.version));
        const body = Buffer.concat([cipher.update(raw), cipher.final()]);
        return Buffer.concat([iv, cipher.getAuthTag(), body]);
      } finally {
        raw.fill(0);
      }
    },
    open(he, sealed, subject, keyId) {
      const blob = Buffer.from(sealed);
      if (blob.length < IV_BYTES + TAG_BYTES + 16) throw new AppError('custodian_key_store_invalid', 'A sealed key is malformed.');
      let raw: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', fileKey, blob.subarray(0, IV_BYTES));
        decipher.setAAD(aad(subject, keyId, he.params.version));
        decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        raw = Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      } catch (cause) {
        throw new AppError('custodian_key_store_invalid', 'A sealed key failed authentication (wrong sealing key, another subject, or tampered).', { cause });
      }
      const secretKey = new he.seal.SecretKey();
      try {
        sealCall(he.seal, 'custodian_key_store_invalid', 'A sealed key does not fit the parameter set.', () => secretKey.loadFromArray(he.context, plainBytes(raw)));
        if (!keyIdOf(he, secretKey).equals(Buffer.from(keyId))) throw new AppError('custodian_key_store_invalid', 'A secret key does not have the id it was registered with.');
        return secretKey;
      } catch (error) {
        secretKey.delete();
        throw error;
      } finally {
        raw.fill(0);
      }
    },
  };
}
