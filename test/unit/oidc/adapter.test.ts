import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientQueries, createOidcPayloadQueries } from '../../../src/db/index.ts';
import { createAdapterClass, createClientRegistry } from '../../../src/oidc/index.ts';
import { createSealer } from '../../../src/sealing/index.ts';
import { testDatabase } from '../../../support/db.ts';

describe('oidc-provider adapter on the database', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let Adapter: ReturnType<typeof createAdapterClass>;
  const sealer = createSealer(randomBytes(32));

  const clock = { t: Date.now(), now: () => clock.t };

  beforeAll(async () => {
    db = await testDatabase();
    Adapter = createAdapterClass({ payloads: createOidcPayloadQueries(db.knex, clock), clients: createClientQueries(db.knex), sealer, idKey: randomBytes(32), clock });
  });
  afterAll(async () => db.close());

  it('stores, finds, consumes and destroys', async () => {
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('c1', { accountId: 'a1', grantId: 'g1', jti: 'c1' }, 60);
    expect(await codes.find('c1')).toEqual({ accountId: 'a1', grantId: 'g1', jti: 'c1' });
    await codes.consume('c1');
    expect((await codes.find('c1'))?.consumed).toEqual(expect.any(Number));
    await codes.destroy('c1');
    expect(await codes.find('c1')).toBeUndefined();
  });

  it('hides expired entries', async () => {
    const sessions = new Adapter('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 1);
    expect(await sessions.findByUid('u1')).toMatchObject({ uid: 'u1', accountId: 'a' });
    clock.t += 1001;
    expect(await sessions.find('s1')).toBeUndefined();
    expect(await sessions.findByUid('u1')).toBeUndefined();
    expect(await createOidcPayloadQueries(db.knex, clock).deleteExpired()).toBeGreaterThanOrEqual(1);
  });

  it('keeps models apart and revokes every model of a grant', async () => {
    const access = new Adapter('AccessToken');
    const refresh = new Adapter('RefreshToken');
    await access.upsert('same-id', { grantId: 'g2' }, 60);
    await refresh.upsert('same-id', { grantId: 'g2', kind: 'rt' }, 60);
    await new Adapter('AccessToken').upsert('other', { grantId: 'g3' }, 60);
    expect(await refresh.find('same-id')).toEqual({ grantId: 'g2', kind: 'rt', jti: 'same-id' });
    await access.revokeByGrantId('g2');
    expect(await access.find('same-id')).toBeUndefined();
    expect(await refresh.find('same-id')).toBeUndefined();
    expect(await access.find('other')).toMatchObject({ grantId: 'g3', jti: 'other' });
  });

  it('stores keyed hashes of ids, and no copy of a credential id in the payload', async () => {
    const token = `at-${randomBytes(16).toString('base64url')}`;
    await new Adapter('AccessToken').upsert(token, { jti: token, accountId: 'a9', grantId: 'g9' }, 60);
    await new Adapter('Session').upsert('session-id-1', { jti: 'session-id-1', uid: 'u9', accountId: 'a9' }, 60);
    const rows = await db.knex('oidc_payloads').select('id', 'payload');
    const text = JSON.stringify(rows);
    expect(text).not.toContain(token);
    expect(rows.some((row: { id: string }) => row.id === 'session-id-1')).toBe(false);
    expect(await new Adapter('AccessToken').find(token)).toMatchObject({ jti: token, accountId: 'a9' });
    // A hash read out of the database is not a token.
    for (const row of rows as Array<{ id: string }>) expect(await new Adapter('AccessToken').find(row.id)).toBeUndefined();
  });

  it('reads clients from their table with the secret unsealed, and stores the secret sealed', async () => {
    const registry = createClientRegistry({ clients: createClientQueries(db.knex), sealer });
    const { clientId, clientSecret } = await registry.add({ name: 'App', redirectUris: ['https://app.example/cb'] });
    const found = await new Adapter('Client').find(clientId);
    expect(found).toMatchObject({ client_id: clientId, client_secret: clientSecret, redirect_uris: ['https://app.example/cb'], first_party: false });
    const row = await db.knex('oidc_clients').where({ client_id: clientId }).first();
    expect(Buffer.from(row.secret_sealed).includes(Buffer.from(clientSecret!))).toBe(false);
    expect(JSON.stringify(row.metadata)).not.toContain(clientSecret);
    await expect(registry.add({ name: 'Bad', redirectUris: ['https://app.example/cb#x'] })).rejects.toMatchObject({ code: 'client_invalid' });
    // Deletions report whether a row went, on both engines (knex-pglite needs help, see connect.ts).
    expect(await registry.remove(clientId)).toBe(true);
    expect(await registry.remove(clientId)).toBe(false);
  });
});
