import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigningKeyQueries } from '../../../src/db/index.ts';
import { createSigningKeys } from '../../../src/keys/index.ts';
import { createSealer } from '../../../src/sealing/index.ts';
import { testDatabase } from '../../../support/db.ts';

describe('signing keys', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  beforeAll(async () => {
    db = await testDatabase();
  });
  afterAll(async () => db.close());

  it('creates an active and a published next key per algorithm, sealed at rest', async () => {
    const keys = createSigningKeys({ db: db.knex, queries: createSigningKeyQueries(db.knex), sealer: createSealer(randomBytes(32)) });
    await Promise.all([keys.ensure(), keys.ensure()]);
    const list = await keys.list();
    expect(list.map((k) => `${k.alg}:${k.state}`).sort()).toEqual(['ES256:active', 'ES256:next', 'RS256:active', 'RS256:next']);
    const jwks = await keys.privateJwks();
    expect(jwks.keys[0]).toMatchObject({ kty: expect.any(String), d: expect.any(String) });
    const rows = await db.knex('signing_keys').select('private_sealed', 'public_jwk');
    for (const row of rows) {
      expect(JSON.stringify(row.public_jwk)).not.toContain('"d"');
      expect(Buffer.from(row.private_sealed).toString('latin1')).not.toMatch(/"d"\s*:/);
    }
  });

  it('rotation promotes the already-published key and keeps the old one for verification', async () => {
    const sealer = createSealer(randomBytes(32));
    const fresh = await testDatabase();
    try {
      const keys = createSigningKeys({ db: fresh.knex, queries: createSigningKeyQueries(fresh.knex), sealer });
      await keys.ensure();
      const before = await keys.list();
      const next = before.filter((k) => k.state === 'next').map((k) => k.kid).sort();
      const active = before.filter((k) => k.state === 'active').map((k) => k.kid).sort();
      const result = await keys.rotate();
      expect(result.activated.sort()).toEqual(next);
      expect(result.retired.sort()).toEqual(active);
      const after = await keys.list();
      expect(after.filter((k) => k.state === 'active').map((k) => k.kid).sort()).toEqual(next);
      expect(after.filter((k) => k.state === 'retired').map((k) => k.kid).sort()).toEqual(active);
      expect(after.filter((k) => k.state === 'next')).toHaveLength(2);
      // Active keys come first in the JWKS (the provider signs with the first key per algorithm).
      const jwks = await keys.privateJwks();
      expect(next).toContain(jwks.keys[0]!.kid);
      expect(jwks.keys).toHaveLength(6);
    } finally {
      await fresh.close();
    }
  });
});
