import { randomBytes } from 'node:crypto';
import knexPackage from 'knex';
import { connectDatabase, migrateLatest, type Database } from '../../src/db/index.ts';

const { knex } = knexPackage;

/**
 * A fresh, migrated database for one test file: a private schema on the PostgreSQL named by
 * DATABASE_URL (so test files running in parallel never see each other's rows), or else an
 * in-memory PGlite, the embedded default.
 */
export async function testDatabase(options: { pglite?: boolean; pgliteDataDir?: string } = {}): Promise<Database & { label: string }> {
  const url = options.pglite || options.pgliteDataDir ? undefined : process.env.DATABASE_URL;
  if (!url) {
    const database = connectDatabase({ url: undefined, dataDir: options.pgliteDataDir ?? '', inMemory: !options.pgliteDataDir });
    await migrateLatest(database.knex);
    return { ...database, label: 'pglite' };
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw('create schema ??', [schema]);
  const instance = knex({ client: 'pg', connection: url, searchPath: [schema], pool: { min: 0, max: 10 } });
  await migrateLatest(instance);
  return {
    knex: instance,
    kind: 'postgres',
    label: 'postgres',
    async close() {
      await instance.destroy();
      await admin.raw('drop schema ?? cascade', [schema]);
      await admin.destroy();
    },
  };
}
