import { randomBytes } from 'node:crypto';
import knexPackage from 'knex';
import { connectDatabase, migrateLatest, type Database } from '../src/db/index.ts';
import { leasePglite } from './pglite-image.ts';

const { knex } = knexPackage;

export interface TestDatabaseOptions {
  pglite?: boolean;
  pgliteDataDir?: string;
  url?: string;
  schema?: string;
  /** PGlite in memory: initdb and run the migrations here instead of loading the image (the migrations test). */
  fresh?: boolean;
}

/**
 * A fresh, migrated database for one test file: a private schema on the PostgreSQL named by
 * DATABASE_URL (so test files running in parallel never see each other's rows), or else an
 * in-memory PGlite, the embedded default, started from a migrated image or emptied after use by
 * an earlier file of the same process (pglite-image.ts; the migrations themselves are tested in
 * test/integration/db/migrations.test.ts). With
 * `pgliteDataDir`, PGlite on disk as `npm start` runs it, created and migrated there.
 */
export async function testDatabase(options: TestDatabaseOptions = {}): Promise<Database & { label: string; schema?: string }> {
  const url = options.pglite || options.pgliteDataDir ? undefined : (options.url ?? process.env.DATABASE_URL);
  if (!url && (options.pgliteDataDir || options.fresh)) {
    const database = connectDatabase({ url: undefined, dataDir: options.pgliteDataDir ?? '', inMemory: !options.pgliteDataDir });
    await migrateLatest(database.knex);
    return { ...database, label: 'pglite' };
  }
  if (!url) {
    const database = connectDatabase({ url: undefined, dataDir: '', inMemory: true, pglite: await leasePglite() });
    return { ...database, label: 'pglite' };
  }
  // The schema is created and dropped through DATABASE_URL itself (a proxied url may be cut).
  const schema = options.schema ?? `test_${randomBytes(6).toString('hex')}`;
  const adminUrl = process.env.DATABASE_URL ?? url;
  const admin = knex({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  await admin.raw('create schema if not exists ??', [schema]);
  // The product's own connection settings (timeouts included): a test of "the database stops
  // answering" must exercise the timeouts the IdP runs with, not the driver's defaults.
  const { knex: instance } = connectDatabase({ url, dataDir: '', searchPath: [schema] });
  await migrateLatest(instance);
  let closed = false;
  return {
    knex: instance,
    kind: 'postgres',
    label: 'postgres',
    schema,
    async close() {
      if (closed) return;
      closed = true;
      await instance.destroy();
      if (!options.schema) await admin.raw('drop schema if exists ?? cascade', [schema]);
      await admin.destroy();
    },
  };
}
