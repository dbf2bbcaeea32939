import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SecretKey } from 'node-seal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeySealer } from '../../src/custodian/internal/keys.ts';
import { connectDatabase } from '../../src/db/index.ts';
import { createHeContext, type HeContext } from '../../src/he/keyside.ts';
import { people } from '../../support/parts.ts';
import { signUpOverHttp } from '../../support/signin.ts';

/**
 * Finding 3 of the 2026-12-01 review: a copy of the demo's data directory decrypted every
 * template, because the custodian's key directory and sealing key sat inside it. Here the demo
 * runs exactly as `npm start` runs it (scripts/start.ts: custodian, IdP and sample RP on the
 * embedded database), a face is enrolled, and then an attacker with a full copy of DATA_DIR (its
 * PGlite database included) tries every key material it holds against the stored template.
 */
const freePort = () => new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as AddressInfo;
    probe.close(() => resolve(port));
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    return stat.isDirectory() ? filesUnder(path) : stat.isFile() ? [path] : [];
  });
}

/**
 * Whether `secretKey` really decrypts the template: its coefficients 0..127 are the quantised
 * descriptor (small) and coefficient 128 their squared norm. Noise from a wrong key never passes.
 */
function decryptsTemplate(he: HeContext, secretKey: SecretKey, template: Uint8Array): boolean {
  const { seal, context, params } = he;
  const keyId = template.subarray(5 + template[4]!, 5 + template[4]! + 16);
  const ciphertext = he.loadCiphertext(template, 'template', keyId);
  const decryptor = new seal.Decryptor(context, secretKey);
  const plaintext = new seal.Plaintext();
  try {
    decryptor.decrypt(ciphertext, plaintext);
    const bytes = plaintext.saveToArray(seal.ComprModeType.none) as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = 16 + 32 + 8 + 8 + 16 + 8;
    const count = Number(view.getBigUint64(offset - 8, true));
    const t = params.plainModulus;
    const coefficient = (i: number) => {
      if (i >= count) return 0;
      const value = Number(view.getBigUint64(offset + 8 * i, true));
      return value >= t / 2 ? value - t : value;
    };
    let norm = 0;
    for (let i = 0; i < params.dimension; i += 1) {
      const v = coefficient(i);
      if (Math.abs(v) > 128) return false;
      norm += v * v;
    }
    return norm > 0 && norm === coefficient(params.dimension);
  } catch {
    return false;
  } finally {
    plaintext.delete();
    decryptor.delete();
    ciphertext.delete();
  }
}

/** Every SEAL-serialised object inside `data` (magic 0xA15E, a consistent size field). */
function sealBlobs(data: Buffer): Buffer[] {
  const found: Buffer[] = [];
  for (let at = data.indexOf(Buffer.from([0x5e, 0xa1])); at >= 0 && found.length < 10_000; at = data.indexOf(Buffer.from([0x5e, 0xa1]), at + 1)) {
    if (at + 16 > data.length || data[at + 2] !== 16 || data[at + 3] !== 4) continue;
    const size = Number(data.readBigUInt64LE(at + 8));
    if (size >= 16 && at + size <= data.length && size < 1 << 20) found.push(data.subarray(at, at + size));
  }
  return found;
}

describe('finding 3: a stolen copy of the IdP\'s data directory (npm start\'s layout)', () => {
  const root = mkdtempSync(join(tmpdir(), 'faceid-demo-'));
  const dataDir = join(root, 'data');
  const custodianDir = join(root, 'custodian-data');
  let demo: ChildProcess;
  let template: Uint8Array;
  let he: HeContext;

  beforeAll(async () => {
    const [port, rpPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, CUSTODIAN_KEY_DIR: custodianDir, PORT: String(port), RP_PORT: String(rpPort), LOG_LEVEL: 'warn', FACE_WORKERS: '1', LIVENESS: 'off' };
    delete env.DATABASE_URL;
    delete env.SAMPLE_RP_URL;
    demo = spawn(process.execPath, ['scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (const deadline = Date.now() + 150_000; !output.includes('FaceID-FHE is running'); ) {
      if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`npm start did not come up: ${output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const response = await signUpOverHttp(`http://localhost:${port}`, 'stolen', (await people()).a.enroll.map((data) => ({ data })));
    expect(response.status, response.text).toBe(303);
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    demo.kill('SIGINT');
    await exited;
    he = await createHeContext();
  }, 200_000);

  afterAll(() => {
    if (demo && demo.exitCode === null) demo.kill('SIGKILL');
    he?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps the custodian\'s directory outside DATA_DIR', () => {
    expect(filesUnder(dataDir).some((file) => /registry\.sqlite|sealing\.key|secret-key/.test(file))).toBe(false);
    expect(filesUnder(custodianDir).some((file) => file.endsWith('registry.sqlite'))).toBe(true);
    expect(readFileSync(join(dataDir, 'secrets', 'demo-secrets.json'), 'utf8')).not.toContain('custodianSealingKey');
  });

  it('decrypts nothing: no key material in the copy opens the stored template', async () => {
    const stolen = join(root, 'stolen');
    cpSync(dataDir, stolen, { recursive: true });
    const database = connectDatabase({ url: undefined, dataDir: stolen });
    const rows = await database.knex('face_templates').select('ciphertext');
    await database.close();
    expect(rows).toHaveLength(1);
    template = new Uint8Array(rows[0].ciphertext);

    // Every SEAL object in every file of the copy, tried as a secret key.
    let blobs = 0;
    for (const file of filesUnder(stolen)) {
      for (const blob of sealBlobs(readFileSync(file))) {
        blobs += 1;
        const key = new he.seal.SecretKey();
        try {
          key.loadFromArray(he.context, new Uint8Array(blob));
        } catch {
          key.delete();
          continue;
        }
        expect(decryptsTemplate(he, key, template), `${file}: a SEAL object that decrypts the template`).toBe(false);
        key.delete();
      }
    }
    expect(blobs).toBeGreaterThan(0); // the template ciphertext itself is in the database files
    // Every secret of the IdP's, tried as the custodian's sealing key: there is no sealed HE key
    // in the copy to open (no custodian store), whatever key is used.
    const secrets = JSON.parse(readFileSync(join(stolen, 'secrets', 'demo-secrets.json'), 'utf8')) as Record<string, string | string[]>;
    const candidates = Object.values(secrets).flat().flatMap((value) => [Buffer.from(value, 'base64'), Buffer.from(value, 'base64url')]).filter((key) => key.length === 32);
    expect(candidates.length).toBeGreaterThanOrEqual(3);
    expect(filesUnder(stolen).filter((file) => file.endsWith('.sqlite'))).toEqual([]);
  });

  it('positive control: the custodian\'s own directory (which the thief does not have) does decrypt it', () => {
    const sealingKey = readFileSync(join(custodianDir, 'sealing.key'));
    const db = new DatabaseSync(join(custodianDir, 'registry.sqlite'), { readOnly: true });
    const rows = db.prepare('SELECT subject, key_id, sealed_key FROM subjects').all() as Array<{ subject: string; key_id: Uint8Array; sealed_key: Uint8Array }>;
    db.close();
    expect(rows).toHaveLength(1);
    const key = createKeySealer(sealingKey).open(he, rows[0]!.sealed_key, rows[0]!.subject, rows[0]!.key_id);
    try {
      expect(decryptsTemplate(he, key, template)).toBe(true);
    } finally {
      key.delete();
    }
  });
});
