import { randomBytes, randomUUID } from 'node:crypto';
import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTotpQueries } from '../../../src/db/index.ts';
import { createTotp, type Totp } from '../../../src/mfa/index.ts';
import { createSealer } from '../../../src/sealing/index.ts';
import { testDatabase } from '../../../support/db.ts';

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0); // a step boundary (divisible by 30 s)
const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });

describe('TOTP (RFC 6238) with replay guard and recovery codes', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let totp: Totp;
  let accountId: string;
  let secret: string;
  let recovery: string[];

  beforeAll(async () => {
    db = await testDatabase();
    totp = createTotp({ db: db.knex, queries: createTotpQueries(db.knex), sealer: createSealer(randomBytes(32)), pepper: randomBytes(32), issuer: 'FaceID-FHE' });
  });
  afterAll(async () => db.close());

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    accountId = randomUUID();
    await db.knex('accounts').insert({ id: accountId, username: `u${accountId.slice(0, 8)}`, email: 'u@example.com', biometric_consent_at: new Date() });
    const enrollment = await totp.begin(accountId, 'user@example.com');
    secret = enrollment.secret;
    expect(enrollment.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrollment.qrSvg).toContain('<svg');
    // A code from the setup step activates it; the first step is then used.
    recovery = await totp.confirm(accountId, await codeAt(secret, T0 - 30_000));
  });
  afterEach(() => vi.useRealTimers());

  it('is inactive until confirmed, and confirmation hands out ten distinct recovery codes', async () => {
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    expect(await totp.status(accountId)).toEqual({ enabled: true, recoveryCodesLeft: 10 });
    const other = randomUUID();
    await db.knex('accounts').insert({ id: other, username: `o${other.slice(0, 8)}`, email: 'o@example.com', biometric_consent_at: new Date() });
    const pending = await totp.begin(other, 'o');
    expect(await totp.verify(other, await codeAt(pending.secret, T0))).toBe(false);
    await expect(totp.confirm(other, '000000')).rejects.toMatchObject({ code: 'totp_invalid' });
  });

  it('accepts the current step and one step either side, nothing further', async () => {
    expect(await totp.verify(accountId, await codeAt(secret, T0 - 60_000))).toBe(false);
    expect(await totp.verify(accountId, await codeAt(secret, T0 + 60_000))).toBe(false);
    expect(await totp.verify(accountId, await codeAt(secret, T0))).toBe(true);
    expect(await totp.verify(accountId, await codeAt(secret, T0 + 30_000))).toBe(true);
  });

  it('refuses a replayed code and any code older than the last one used', async () => {
    const now = await codeAt(secret, T0);
    expect(await totp.verify(accountId, now)).toBe(true);
    expect(await totp.verify(accountId, now)).toBe(false);
    vi.setSystemTime(T0 + 30_000);
    expect(await totp.verify(accountId, await codeAt(secret, T0))).toBe(false);
    expect(await totp.verify(accountId, await codeAt(secret, T0 + 30_000))).toBe(true);
  });

  it('lets exactly one of two parallel submissions of the same code pass', async () => {
    const code = await codeAt(secret, T0);
    const results = await Promise.all([totp.verify(accountId, code), totp.verify(accountId, code), totp.verify(accountId, code)]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('recovery codes work once each, in any format, and can be regenerated', async () => {
    const [first, second] = recovery;
    expect(await totp.useRecoveryCode(accountId, first!.toUpperCase().replace('-', ' '))).toBe(true);
    expect(await totp.useRecoveryCode(accountId, first!)).toBe(false);
    const parallel = await Promise.all([totp.useRecoveryCode(accountId, second!), totp.useRecoveryCode(accountId, second!)]);
    expect(parallel.filter(Boolean)).toHaveLength(1);
    expect((await totp.status(accountId)).recoveryCodesLeft).toBe(8);
    const fresh = await totp.regenerateRecoveryCodes(accountId);
    expect(await totp.useRecoveryCode(accountId, recovery[3]!)).toBe(false);
    expect(await totp.useRecoveryCode(accountId, fresh[0]!)).toBe(true);
  });

  it('keeps the secret sealed and recovery codes hashed at rest', async () => {
    const row = await db.knex('totp_credentials').where({ account_id: accountId }).first();
    expect(Buffer.from(row.secret_sealed).toString('latin1')).not.toContain(secret);
    const hashes = (await db.knex('recovery_codes').where({ account_id: accountId })).map((r: { code_hash: string }) => r.code_hash);
    for (const code of recovery) expect(hashes.join(',')).not.toContain(code.replace('-', ''));
  });

  it('removal erases the secret and the codes', async () => {
    await totp.remove(accountId);
    expect(await totp.status(accountId)).toEqual({ enabled: false, recoveryCodesLeft: 0 });
    expect(await db.knex('recovery_codes').where({ account_id: accountId })).toEqual([]);
  });
});
