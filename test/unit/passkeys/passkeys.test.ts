import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebauthnQueries } from '../../../src/db/index.ts';
import { createPasskeys } from '../../../src/passkeys/index.ts';
import { testDatabase } from '../../../support/db.ts';
import { createSoftAuthenticator } from '../../../support/soft-authenticator.ts';

/**
 * The passkey capability on the embedded database with a software authenticator and a clock the
 * test moves: challenge lifetime and binding, duplicate registration, what the flags become, and
 * a clone's counter. (The HTTP and browser tests cover the same ceremonies end to end.)
 */
const RP = { rpId: 'idp.example', rpName: 'FaceID-FHE', origins: ['https://idp.example'] };

describe('passkeys', () => {
  let database: Awaited<ReturnType<typeof testDatabase>>;
  const clock = { t: Date.UTC(2026, 11, 1), now: () => clock.t };
  let passkeys: ReturnType<typeof createPasskeys>;

  beforeAll(async () => {
    database = await testDatabase({ pglite: true });
    for (const id of ['acc-1', 'acc-2']) {
      await database.knex('accounts').insert({ id, username: id, email: `${id}@example.com`, biometric_consent_at: new Date() });
    }
    passkeys = createPasskeys({ queries: createWebauthnQueries(database.knex), config: RP, userHandleKey: new Uint8Array(32).fill(7), clock });
  });
  afterAll(async () => database?.close());

  const enroll = async (accountId: string, authenticator: ReturnType<typeof createSoftAuthenticator>) => {
    const options = await passkeys.registrationOptions({ binding: `account:${accountId}`, accountId, username: accountId, displayName: accountId });
    return passkeys.register({ binding: `account:${accountId}`, accountId, name: 'key', response: authenticator.register(options) });
  };

  it('asks for a discoverable credential, user verification preferred, attestation none; the user handle is not the account id', async () => {
    const options = await passkeys.registrationOptions({ binding: 'account:acc-1', accountId: 'acc-1', username: 'acc-1', displayName: 'acc-1' });
    expect(options).toMatchObject({ rp: { id: 'idp.example' }, attestation: 'none', authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' } });
    expect(Buffer.from(options.user.id, 'base64url').toString()).not.toContain('acc-1');
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual(expect.arrayContaining([-7, -8, -257]));
  });

  it('a challenge lives five minutes, for its binding and purpose only, and once', async () => {
    const key = createSoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]! });
    await enroll('acc-1', key);
    const ask = () => passkeys.authenticationOptions({ binding: 'interaction:one' });
    const use = (binding: string, options: { challenge: string }) => passkeys.authenticate({ binding, response: key.authenticate(options) }).catch((error: { code: string }) => error.code);

    const late = await ask();
    clock.t += 5 * 60_000;
    expect(await use('interaction:one', late)).toBe('challenge_expired');
    const fresh = await ask();
    expect(await use('interaction:two', fresh)).toBe('challenge_expired'); // another sign-in has no challenge
    expect(await use('interaction:one', fresh)).toMatchObject({ accountId: 'acc-1' });
    expect(await use('interaction:one', fresh)).toBe('challenge_expired'); // spent
    // A registration challenge is not an assertion challenge.
    const creation = await passkeys.registrationOptions({ binding: 'interaction:one', accountId: 'acc-1', username: 'acc-1', displayName: 'acc-1' });
    expect(await use('interaction:one', creation)).toBe('challenge_expired');
  });

  it('refuses a second registration of the same authenticator (passkey_exists) and excludes it in the options', async () => {
    const key = createSoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]! });
    const first = await enroll('acc-2', key);
    const options = await passkeys.registrationOptions({ binding: 'account:acc-2', accountId: 'acc-2', username: 'acc-2', displayName: 'acc-2' });
    expect(options.excludeCredentials?.map((c) => c.id)).toEqual([first.id]);
    // The same credential presented again (an authenticator that ignored excludeCredentials).
    const again = key.register(options, { credential: key.credentials[0]! });
    expect(again.id).toBe(first.id);
    await expect(passkeys.register({ binding: 'account:acc-2', accountId: 'acc-2', name: 'again', response: again })).rejects.toMatchObject({ code: 'passkey_exists' });
    expect(await passkeys.list('acc-2')).toHaveLength(1);
  });

  it('reports what the authenticator said: synced (swk) or device-bound (hwk), user verified or not', async () => {
    const key = createSoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]!, userVerified: false });
    await enroll('acc-2', key);
    const options = await passkeys.authenticationOptions({ binding: 'interaction:uv', accountId: 'acc-2' });
    expect(options.allowCredentials?.map((c) => c.id).sort()).toEqual((await passkeys.list('acc-2')).map((k) => k.id).sort());
    const use = await passkeys.authenticate({ binding: 'interaction:uv', response: key.authenticate(options), expectedAccountId: 'acc-2' });
    expect(use).toMatchObject({ accountId: 'acc-2', backedUp: false, userVerified: false });
  });

  it('a wrong RP ID, another account expected, or a counter that does not move: passkey_invalid', async () => {
    const key = createSoftAuthenticator({ rpId: RP.rpId, origin: RP.origins[0]! });
    await enroll('acc-1', key);
    const attempt = async (response: (options: { challenge: string }) => unknown, expectedAccountId?: string) => {
      const options = await passkeys.authenticationOptions({ binding: 'interaction:bad' });
      return passkeys.authenticate({ binding: 'interaction:bad', response: response(options), ...(expectedAccountId ? { expectedAccountId } : {}) }).catch((error: { code: string }) => error.code);
    };
    const otherRp = createSoftAuthenticator({ rpId: 'evil.example', origin: RP.origins[0]! });
    otherRp.credentials.push(key.credentials[0]!);
    expect(await attempt((o) => otherRp.authenticate(o))).toBe('passkey_invalid');
    expect(await attempt((o) => key.authenticate(o), 'acc-2')).toBe('passkey_invalid');
    expect(await attempt((o) => key.authenticate(o))).toMatchObject({ accountId: 'acc-1' });
    expect(await attempt((o) => key.authenticate(o, { counter: key.credentials[0]!.counter }))).toBe('passkey_invalid'); // same counter again: a clone
  });
});
