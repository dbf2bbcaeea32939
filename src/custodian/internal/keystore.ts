import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretKey } from 'node-seal';
import { AppError, type Logger } from '../../shared/index.ts';
import { plainBytes, savePublicKey, sealCall, type HeContext } from '../../he/index.ts';

/**
 * The HE key pair at rest. The SEAL secret key is sealed with AES-256-GCM (NIST SP 800-38D) under a
 * key derived with HKDF (RFC 5869) from the sealing key, the header (format, parameter version)
 * as associated data; written 0600 in a 0700 directory through a temporary file and rename, so a
 * crash never leaves a half-written key. The public key is re-derived from the secret key at
 * start (any public key for the same secret key decrypts to the same values).
 */
const FILE_MAGIC = Buffer.from('FCSK', 'latin1');
const FILE_FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CustodianKeys {
  readonly secretKey: SecretKey;
  readonly publicKey: Uint8Array;
  /**
   * A random id made with the secret key and kept beside it. Every template and blinded result
   * carries it; the judge refuses any other id. Without it a template made under an earlier key
   * would be "judged" under the current one: a random sign, a match half of the time.
   */
  readonly keyId: Uint8Array;
  readonly created: boolean;
}

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

/** The configured sealing key, or in demo mode one generated once into the key directory. */
export function resolveSealingKey(keyDir: string, configured: Buffer | undefined, logger: Logger): Buffer {
  if (configured) return configured;
  const path = join(keyDir, 'sealing.key');
  logger.warn(
    '!!! DEMO MODE: the sealing key of the HE secret key is stored next to it in the key directory. ' +
      'Anyone who can read that directory can decrypt every face template. Set CUSTODIAN_SEALING_KEY in production. !!!',
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

export function deriveKey(sealingKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sealingKey, Buffer.alloc(0), `faceid-fhe/custodian/${purpose}/v1`, 32));
}

export function secretKeyPath(keyDir: string, paramsVersion: string): string {
  return join(keyDir, `secret-key.${paramsVersion}.sealed`);
}

function fileHeader(paramsVersion: string): Buffer {
  const version = Buffer.from(paramsVersion, 'latin1');
  return Buffer.concat([FILE_MAGIC, Buffer.from([FILE_FORMAT, version.length]), version]);
}

function sealSecretKey(raw: Uint8Array, fileKey: Buffer, paramsVersion: string): Buffer {
  const header = fileHeader(paramsVersion);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', fileKey, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(raw), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

function openSecretKey(file: Buffer, fileKey: Buffer, paramsVersion: string): Buffer {
  const header = fileHeader(paramsVersion);
  if (file.length < header.length + IV_BYTES + TAG_BYTES || !file.subarray(0, header.length).equals(header)) {
    throw new AppError('custodian_key_store_invalid', `The secret key file is not a sealed key for ${paramsVersion}.`);
  }
  const iv = file.subarray(header.length, header.length + IV_BYTES);
  const tag = file.subarray(header.length + IV_BYTES, header.length + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', fileKey, iv);
    decipher.setAAD(header);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(file.subarray(header.length + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new AppError('custodian_key_store_invalid', 'The secret key file failed authentication (wrong sealing key or tampered).', { cause });
  }
}

/**
 * Loads the sealed secret key for the context's parameter set. A new key is made only when
 * `allowCreate` says so (demo mode, or an operator's explicit CUSTODIAN_CREATE_KEY=1): a key that
 * went missing must not be replaced silently, since every stored template would become unusable.
 */
export function loadOrCreateKeys(he: HeContext, keyDir: string, sealingKey: Buffer, options: { allowCreate: boolean; logger?: Logger } = { allowCreate: true }): CustodianKeys {
  const { seal, context, params } = he;
  const fileKey = deriveKey(sealingKey, 'secret-key-file');
  const path = secretKeyPath(keyDir, params.version);
  const idPath = `${path}.id`;
  const created = !existsSync(path);
  if (created && !options.allowCreate) {
    throw new AppError('custodian_key_missing', `No secret key in ${keyDir} for ${params.version}. Restore the key directory, or create a new key with CUSTODIAN_CREATE_KEY=1 (every existing template will then have to be re-enrolled).`);
  }
  let secretKey: SecretKey;
  let keyId: Buffer;
  if (created) {
    const generator = new seal.KeyGenerator(context);
    try {
      secretKey = generator.secretKey();
    } finally {
      generator.delete();
    }
    const raw = secretKey.saveToArray(seal.ComprModeType.none) as Uint8Array;
    keyId = randomBytes(16);
    try {
      writePrivateFile(idPath, Buffer.from(keyId.toString('hex'), 'latin1'));
      writePrivateFile(path, sealSecretKey(raw, fileKey, params.version));
    } catch (error) {
      secretKey.delete();
      throw error;
    } finally {
      raw.fill(0);
    }
  } else {
    checkPrivateFile(path);
    if (!existsSync(idPath)) {
      // A key from before key ids: give it one. Templates made earlier cannot be told apart from
      // another key's, so they are refused (re-enrollment) rather than judged.
      writePrivateFile(idPath, Buffer.from(randomBytes(16).toString('hex'), 'latin1'));
      options.logger?.warn({ keyDir }, 'the secret key had no key id; one was created and templates made before are refused');
    }
    keyId = Buffer.from(readFileSync(idPath, 'latin1').trim(), 'hex');
    if (keyId.length !== 16) throw new AppError('custodian_key_store_invalid', `The key id file ${idPath} is malformed.`);
    const raw = openSecretKey(readFileSync(path), fileKey, params.version);
    secretKey = new seal.SecretKey();
    try {
      sealCall(seal, 'custodian_key_store_invalid', 'The sealed secret key does not fit the parameter set.', () => secretKey.loadFromArray(context, plainBytes(raw)));
    } catch (error) {
      secretKey.delete();
      throw error;
    } finally {
      raw.fill(0);
    }
  }
  const generator = new seal.KeyGenerator(context, secretKey);
  const publicKey = generator.createPublicKey();
  try {
    return { secretKey, publicKey: savePublicKey(seal, publicKey), keyId, created };
  } finally {
    publicKey.delete();
    generator.delete();
  }
}
