import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantise } from '../../src/he/index.ts';
import { signUpOverHttp } from '../../support/signin.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';

/**
 * What is at rest after a real enrollment: no image, no plaintext descriptor (as floats, doubles,
 * decimal text or quantised integers), no signing or sealing key in plaintext — neither in the
 * database (dumped table by table) nor anywhere in the data directory (the embedded PGlite files).
 */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe.each([
  { engine: 'the embedded PGlite default (files in DATA_DIR)', persistentPglite: true },
  ...(process.env.DATABASE_URL ? [{ engine: 'PostgreSQL', persistentPglite: false }] : []),
])('at rest on $engine', ({ persistentPglite }) => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let dump: Buffer;
  let files: Array<{ path: string; data: Buffer }> = [];
  let descriptor: Float32Array;
  let privateJwks: Array<Record<string, unknown>>;
  let modelVersion: string;
  let template: { ciphertext: Uint8Array; he_params: string; model_version: string };

  beforeAll(async () => {
    parts = await realParts();
    idp = await startIdp(parts.parts, { persistentPglite });
    const response = await signUpOverHttp(idp.url, 'storage', parts.enrollFrames);
    expect(response.status, response.text).toBe(303);
    descriptor = await parts.face.enroll(parts.enrollFrames.map((frame) => frame.data));
    modelVersion = parts.face.modelVersion;
    template = await idp.database.knex('face_templates').first();
    privateJwks = (await idp.app.services.signingKeys.privateJwks()).keys as Array<Record<string, unknown>>;

    const tables = (await idp.database.knex('information_schema.tables').select('table_name').whereRaw("table_schema = current_schema() and table_type = 'BASE TABLE'")) as Array<{ table_name: string }>;
    const chunks: Buffer[] = [];
    for (const { table_name: table } of tables) {
      for (const row of await idp.database.knex(table).select('*')) {
        for (const value of Object.values(row as Record<string, unknown>)) {
          chunks.push(value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(JSON.stringify(value) ?? ''));
        }
      }
    }
    dump = Buffer.concat(chunks);
    const dataDir = idp.dataDir;
    await idp.close(); // flushes PGlite to its files
    files = filesUnder(dataDir).map((path) => ({ path, data: readFileSync(path) }));
  });

  afterAll(async () => {
    await parts?.close();
  });

  const needlesOfDescriptor = (): Array<[string, Buffer]> => {
    const f32 = Buffer.from(descriptor.buffer, descriptor.byteOffset, descriptor.byteLength);
    const f64 = Buffer.from(Float64Array.from(descriptor.subarray(0, 4)).buffer);
    const q = Array.from(quantise(descriptor).slice(0, 8), Number);
    const i16 = Buffer.from(Int16Array.from(q).buffer);
    const i32 = Buffer.from(Int32Array.from(q).buffer);
    const i64 = Buffer.from(BigInt64Array.from(q.map(BigInt)).buffer);
    const text = descriptor.subarray(0, 3).reduce((s, v) => `${s}${v.toFixed(5)}`, '');
    return [
      ['float32 descriptor (first 16 bytes)', f32.subarray(0, 16)],
      ['float64 descriptor', f64],
      ['quantised int16', i16],
      ['quantised int32', i32],
      ['quantised int64', i64],
      ['descriptor text run', Buffer.from(text)],
    ];
  };

  const haystacks = () => [{ path: 'database dump', data: dump }, ...files.filter((file) => !file.path.endsWith('demo-secrets.json'))];

  it('stores the template only as a ciphertext of the expected size, with its versions', () => {
    expect(template.he_params).toBe('bgv-2048-v1');
    expect(template.model_version).toBe(modelVersion);
    // A BGV ciphertext at N=2048 under the public key: ~30 KB, whatever the descriptor.
    expect(template.ciphertext.byteLength).toBeGreaterThan(28_000);
    expect(template.ciphertext.byteLength).toBeLessThanOrEqual(32 * 1024);
  });

  it('scans what is really on disk', () => {
    if (persistentPglite) expect(files.filter((file) => file.path.includes('/pglite/')).length).toBeGreaterThan(100);
    expect(dump.length).toBeGreaterThan(28_000);
  });

  it('holds no image anywhere', () => {
    const frameHeads = parts.enrollFrames.map((frame) => Buffer.from(frame.data).subarray(0, 64));
    for (const { path, data } of haystacks()) {
      expect(data.includes(Buffer.from('JFIF')), `${path}: JFIF`).toBe(false);
      expect(data.includes(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${path}: PNG`).toBe(false);
      for (const head of frameHeads) expect(data.includes(head), `${path}: frame bytes`).toBe(false);
    }
  });

  it('holds no plaintext descriptor in any encoding', () => {
    for (const { path, data } of haystacks()) {
      for (const [what, needle] of needlesOfDescriptor()) expect(data.includes(needle), `${path}: ${what}`).toBe(false);
    }
  });

  it('holds no signing key, sealing key or cookie key in plaintext', () => {
    const secretNeedles: Array<[string, Buffer]> = privateJwks.flatMap((jwk) => ['d', 'p', 'q'].filter((k) => jwk[k]).map((k) => [`JWK ${jwk.kid} ${k}`, Buffer.from(String(jwk[k]))] as [string, Buffer]));
    expect(secretNeedles.length).toBeGreaterThanOrEqual(4);
    const secrets = JSON.parse(readFileSync(files.find((file) => file.path.endsWith('demo-secrets.json'))!.path, 'utf8')) as { sealingKey: string; cookieKeys: string[] };
    secretNeedles.push(['sealing key (base64)', Buffer.from(secrets.sealingKey)], ['sealing key (raw)', Buffer.from(secrets.sealingKey, 'base64')]);
    for (const key of secrets.cookieKeys) secretNeedles.push(['cookie key', Buffer.from(key)]);
    for (const { path, data } of haystacks()) {
      for (const [what, needle] of secretNeedles) expect(data.includes(needle), `${path}: ${what}`).toBe(false);
    }
    // The demo-mode secrets file itself (production takes these from the environment) is private.
    const secretsFile = files.find((file) => file.path.endsWith('demo-secrets.json'))!;
    expect(statSync(secretsFile.path).mode & 0o777).toBe(0o600);
  });
});
