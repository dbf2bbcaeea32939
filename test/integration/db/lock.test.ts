import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase, lockHolder, pgliteDirectory } from '../../../src/db/index.ts';

/**
 * The embedded database's lock (src/db/lock.ts): one process per PGlite directory. A second
 * opener is refused with the holder named; a lock left by a dead process, or copied along with
 * the directory, is taken over; closing lets go.
 */
describe('the embedded database lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'faceid-lock-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('refuses a second opener while the first is open, and lets go on close', async () => {
    const dataDir = join(root, 'a');
    const first = connectDatabase({ url: undefined, dataDir });
    await first.knex.raw('select 1');
    const lockFile = `${pgliteDirectory(dataDir)}.lock`;
    expect(statSync(lockFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid, dir: pgliteDirectory(dataDir), host: hostname() });
    expect(lockHolder(pgliteDirectory(dataDir))).toMatchObject({ pid: process.pid });
    // Even from the same process: two PGlite instances on one directory corrupt it just the same.
    expect(() => connectDatabase({ url: undefined, dataDir })).toThrow(expect.objectContaining({ code: 'database_locked', message: expect.stringContaining(`in use by process ${process.pid}`) }));
    await first.close();
    expect(existsSync(lockFile)).toBe(false);
    const second = connectDatabase({ url: undefined, dataDir });
    await second.knex.raw('select 1');
    await second.close();
  });

  it('takes over the lock of a process that died without letting go', async () => {
    const dataDir = join(root, 'b');
    // A real process that takes the lock and is killed before it can release it.
    const script = `import { connectDatabase } from './src/db/index.ts'; connectDatabase({ url: undefined, dataDir: ${JSON.stringify(dataDir)} }); process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const lockFile = `${pgliteDirectory(dataDir)}.lock`;
    const dead = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number };
    expect(dead.pid).not.toBe(process.pid);
    expect(lockHolder(pgliteDirectory(dataDir))).toBeUndefined();
    const database = connectDatabase({ url: undefined, dataDir });
    await database.knex.raw('select 1');
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid });
    await database.close();
  });

  it('a lock copied with the directory (a backup restored elsewhere) does not lock the copy', async () => {
    const copy = join(root, 'c-copy');
    mkdirSync(copy);
    // The copy carries a lock naming this live process, but the directory it was copied from.
    writeFileSync(`${pgliteDirectory(copy)}.lock`, JSON.stringify({ pid: process.pid, startTime: null, host: hostname(), dir: pgliteDirectory(join(root, 'c')), since: new Date().toISOString() }));
    const database = connectDatabase({ url: undefined, dataDir: copy });
    await database.knex.raw('select 1');
    expect(JSON.parse(readFileSync(`${pgliteDirectory(copy)}.lock`, 'utf8'))).toMatchObject({ dir: pgliteDirectory(copy) });
    await database.close();
  });

  it('never steals a lock held on another host (shared filesystem): it names that host', () => {
    const dataDir = join(root, 'd');
    mkdirSync(dataDir);
    writeFileSync(`${pgliteDirectory(dataDir)}.lock`, JSON.stringify({ pid: 1, startTime: null, host: 'elsewhere.example', dir: pgliteDirectory(dataDir), since: '2026-12-01T00:00:00.000Z' }));
    expect(() => connectDatabase({ url: undefined, dataDir })).toThrow(expect.objectContaining({ code: 'database_locked', message: expect.stringContaining('process 1 on host elsewhere.example') }));
  });
});
