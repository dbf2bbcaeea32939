import { afterAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrationStatus, rollbackAll } from '../../../src/db/index.ts';
import { testDatabase } from '../../../support/db.ts';

// CI runs the suite against PostgreSQL (DATABASE_URL); the embedded PGlite default is always run.
const engines = [{ name: 'pglite', pglite: true }, ...(process.env.DATABASE_URL ? [{ name: 'postgres', pglite: false }] : [])];

describe.each(engines)('migrations on $name', ({ pglite }) => {
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => Promise.all(opened.map((db) => db.close())));

  it('go latest -> rollback -> latest cleanly', async () => {
    const db = await testDatabase({ pglite, fresh: true });
    opened.push(db);
    const tables = async () =>
      (await db.knex('information_schema.tables').select('table_name').whereRaw('table_schema = current_schema()')).map((row: { table_name: string }) => row.table_name).sort();
    const before = await tables();
    expect(before).toEqual(expect.arrayContaining(['accounts', 'face_templates', 'oidc_payloads', 'oidc_clients', 'signing_keys', 'audit_events']));
    expect((await migrationStatus(db.knex)).pending).toEqual([]);

    const reverted = await rollbackAll(db.knex);
    expect(reverted.length).toBeGreaterThan(0);
    expect((await tables()).filter((name) => !name.startsWith('knex_'))).toEqual([]);

    await migrateLatest(db.knex);
    expect(await tables()).toEqual(before);
  });
});
