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

async function makeImage(): Promise<Uint8Array> {
  const pglite = new PGlite();
  const database = connectDatabase({ url: undefined, dataDir: '', inMemory: true, pglite });
  try {
    await migrateLatest(database.knex);
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

/** A fresh in-memory PGlite, already migrated (its own copy of the image, read once per process). */
export async function migratedPglite(): Promise<PGlite> {
  imageOnce ??= migratedImageFile().then((file) => new Blob([readFileSync(file)]));
  return new PGlite({ loadDataDir: await imageOnce });
}

/** Vitest's globalSetup: make the image before the test processes start, so they never race to. */
export async function setup(): Promise<void> {
  await migratedImageFile();
}
