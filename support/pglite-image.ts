import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { connectDatabase, migrateLatest } from '../src/db/index.ts';

/**
 * A migrated PGlite data directory as a tarball (PGlite's dumpDataDir), so a test database loads
 * it instead of running initdb and every migration: an initdb costs seconds of WASM per test file
 * (most of a unit test file's time), loading the image a fraction of one.
 *
 * The image is made once per machine and kept in the system's temporary directory under a hash
 * of everything it is made from (this file, the PGlite and knex versions, the migration runner and
 * every migration), so a changed migration or upgraded engine makes a new one and an old image is
 * never used. Written to a temporary name and renamed: parallel test processes never read half a
 * file. The migrations themselves are tested from scratch in test/integration/db/migrations.test.ts.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function imageKey(): string {
  const hash = createHash('sha256');
  // How the image is made (makeImage below) is part of what it is.
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const pkg of ['@electric-sql/pglite', 'knex']) {
    hash.update(`${pkg}@${(JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  }
  hash.update(readFileSync(join(ROOT, 'src/db/migrate.ts')));
  for (const name of readdirSync(join(ROOT, 'migrations')).sort()) hash.update(`\n${name}\n`).update(readFileSync(join(ROOT, 'migrations', name)));
  return hash.digest('hex').slice(0, 24);
}

/** The application's tables (all but knex's own): empty in the image, emptied when given back. */
const APP_TABLES = "select tablename as name from pg_tables where schemaname = 'public' and tablename not like 'knex\\_%' order by tablename";

async function makeImage(): Promise<Uint8Array> {
  const pglite = new PGlite();
  const database = connectDatabase({ url: undefined, dataDir: '', inMemory: true, pglite });
  try {
    await migrateLatest(database.knex);
    // A reused test database is emptied by truncating every table (giveBack below): that equals
    // the image only while no migration puts rows in one.
    for (const { name } of (await pglite.query<{ name: string }>(APP_TABLES)).rows) {
      const { rows } = await pglite.query<{ n: number }>(`select count(*)::int as n from "${name}"`);
      if (rows[0]!.n !== 0) throw new Error(`migrations put rows in ${name}: make support/pglite-image.ts restore them when it empties a test database`);
    }
    // PGlite works in the database "postgres"; the two template databases are never used (nothing
    // creates a database) and were a third of the image, which every test database unpacks.
    await pglite.exec("update pg_database set datistemplate = false where datname in ('template0', 'template1')");
    for (const name of ['template0', 'template1']) await pglite.exec(`drop database ${name}`);
    await pglite.exec('checkpoint');
    return new Uint8Array(await (await pglite.dumpDataDir('none')).arrayBuffer());
  } finally {
    await database.close();
  }
}

let fileOnce: Promise<string> | undefined;

/** Where the migrated image is (made and stored on first use on this machine). */
export function migratedImageFile(): Promise<string> {
  fileOnce ??= (async () => {
    const dir = join(tmpdir(), 'faceid-fhe-pglite');
    const file = join(dir, `migrated-${imageKey()}.tar`);
    if (existsSync(file)) return file;
    const image = await makeImage();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, image, { mode: 0o600 });
    renameSync(partial, file);
    return file;
  })();
  return fileOnce;
}

let imageOnce: Promise<Blob> | undefined;

/** Given-back instances, each exactly as the image left it (no rows, no session state). */
const idle: PGlite[] = [];
/** How long a given-back instance waits for the next test file of its process. */
const IDLE_MS = 5_000;

/**
 * A migrated, empty in-memory PGlite for one test database, to hand to connectDatabase. Loading
 * the image still costs a good part of a second; the unit layer runs its files one after another
 * in one process per worker, so an instance given back by one file is emptied and lent to the
 * next. What the knex client calls on the lent object is waitReady, query and close; close gives
 * the instance back instead of closing it.
 */
export async function leasePglite(): Promise<PGlite> {
  imageOnce ??= migratedImageFile().then((file) => new Blob([readFileSync(file)]));
  const pglite = idle.pop() ?? new PGlite({ loadDataDir: await imageOnce });
  let returned = false;
  const lease = {
    get waitReady() {
      return pglite.waitReady;
    },
    query: (...args: Parameters<PGlite['query']>) => {
      if (returned) throw new Error('this test database was closed');
      return pglite.query(...args);
    },
    async close() {
      if (returned) return;
      returned = true;
      await giveBack(pglite);
    },
  };
  return lease as unknown as PGlite;
}

/**
 * Empties an instance for the next test database: no session state (DISCARD ALL; it refuses to
 * run inside a transaction, so an instance a test left mid-transaction is closed, not reused) and
 * no rows in any table, sequences restarted. Anything that fails closes the instance instead.
 */
async function giveBack(pglite: PGlite): Promise<void> {
  try {
    await pglite.exec('discard all');
    const tables = (await pglite.query<{ name: string }>(APP_TABLES)).rows.map((row) => `"${row.name}"`);
    if (tables.length > 0) await pglite.exec(`truncate ${tables.join(', ')} restart identity cascade`);
    idle.push(pglite);
    // An open PGlite keeps its process alive (a timer of its own): one nobody takes soon is
    // closed, so a process that is done with its databases can exit.
    setTimeout(() => {
      const at = idle.indexOf(pglite);
      if (at < 0) return;
      idle.splice(at, 1);
      void pglite.close();
    }, IDLE_MS).unref();
  } catch {
    await pglite.close();
  }
}

/** Vitest's globalSetup: make the image before the test processes start, so they never race to. */
export async function setup(): Promise<void> {
  await migratedImageFile();
}
