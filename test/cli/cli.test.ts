import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import knexPackage from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoSecrets } from '../../src/config/index.ts';
import { spawnCustodian, type SpawnedCustodian } from '../../src/custodian/index.ts';
import { people } from '../../support/parts.ts';

const run = promisify(execFile);
const { knex } = knexPackage;

/** The operator CLI as operators run it: its own process, the same configuration as the IdP. */
describe('operator CLI (npm run cli)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'faceid-cli-'));
  let custodian: SpawnedCustodian;
  let env: NodeJS.ProcessEnv;
  let dropSchema: (() => Promise<void>) | undefined;
  const images: string[] = [];

  beforeAll(async () => {
    const secrets = ensureDemoSecrets(dataDir);
    custodian = await spawnCustodian({
      // The custodian's own directory, beside (not inside) the IdP's, as npm start does it.
      keyDir: `${dataDir}-custodian`,
      socketPath: join(dataDir, 'custodian.sock'),
      sharedSecret: secrets.custodianSharedSecret,
      demo: true,
    });
    env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', FACE_WORKERS: '1' };
    delete env.DATABASE_URL;
    if (process.env.DATABASE_URL) {
      // A private schema on the CI PostgreSQL, selected through the connection string.
      const schema = `cli_${randomBytes(5).toString('hex')}`;
      const admin = knex({ client: 'pg', connection: process.env.DATABASE_URL });
      await admin.raw('create schema ??', [schema]);
      const url = new URL(process.env.DATABASE_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      env.DATABASE_URL = url.href;
      dropSchema = async () => {
        await admin.raw('drop schema ?? cascade', [schema]);
        await admin.destroy();
      };
    }
    const who = await people();
    who.a.enroll.forEach((frame, index) => {
      const file = join(dataDir, `face-${index}.jpg`);
      writeFileSync(file, frame);
      images.push(file);
    });
  });

  afterAll(async () => {
    await custodian?.stop();
    await dropSchema?.();
  });

  const cli = (...args: string[]) => run(process.execPath, ['src/cli/index.ts', ...args], { env, timeout: 120_000 });

  it('adds, lists and deletes clients; the secret is printed once', async () => {
    const added = await cli('client:add', '--name', 'Shop', '--redirect-uri', 'https://shop.example/cb', '--first-party');
    const clientId = /client_id=(\S+)/.exec(added.stdout)![1]!;
    const secret = /client_secret=([\w-]{43})/.exec(added.stdout)![1]!;
    const listed = await cli('client:list');
    expect(listed.stdout).toContain(clientId);
    expect(listed.stdout).toContain('first-party');
    expect(listed.stdout).not.toContain(secret);
    await cli('client:delete', '--client-id', clientId);
    expect((await cli('client:list')).stdout).not.toContain(clientId);
  });

  it('enrolls a user from photos, lists and deletes them', async () => {
    const added = await cli('user:add', '--username', 'cli-user', '--email', 'cli@example.com', ...images.flatMap((file) => ['--face', file]));
    expect(added.stdout).toContain('encrypted');
    expect((await cli('user:list')).stdout).toContain('cli-user');
    const reset = await cli('user:reset-face', '--username', 'cli-user', ...images.flatMap((file) => ['--face', file]));
    expect(reset.stdout).toContain('audited');
    await expect(cli('user:reset-face', '--username', 'nobody', '--face', images[0]!)).rejects.toMatchObject({ stderr: expect.stringContaining('No such user') });
    // A taken username is only reported after a real enrollment's face work (not a cheap oracle).
    await expect(cli('user:add', '--username', 'cli-user', '--email', 'x@example.com', '--face', images[0]!)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('bad_frame_count') });
    const again = cli('user:add', '--username', 'cli-user', '--email', 'x@example.com', ...images.flatMap((file) => ['--face', file]));
    await expect(again).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('username_taken') });
    expect((await cli('user:delete', '--username', 'cli-user')).stdout).toContain('erased');
    expect((await cli('user:list')).stdout).not.toContain('cli-user');
  }, 240_000); // six commands that each load the face models

  it('rotates signing keys: next becomes active, a new next is published', async () => {
    await cli('db:migrate');
    const before = (await cli('keys:list')).stdout;
    const rotated = await cli('keys:rotate');
    expect(rotated.stdout).toMatch(/activated .+\nretired .+\npublished next .+/);
    const after = (await cli('keys:list')).stdout;
    expect(after.split('\n').filter((line) => line.includes('retired'))).toHaveLength(2);
    expect(before).not.toEqual(after);
  });

  it('--json: one JSON object on stdout, logs on stderr only (even at LOG_LEVEL=info), errors too', async () => {
    const chatty = (...args: string[]) => run(process.execPath, ['src/cli/index.ts', ...args], { env: { ...env, LOG_LEVEL: 'info' }, timeout: 120_000 });
    const added = await chatty('client:add', '--name', 'Json', '--redirect-uri', 'https://json.example/cb', '--json');
    const parsed = JSON.parse(added.stdout) as { ok: boolean; clientId: string; clientSecret: string };
    expect(parsed).toMatchObject({ ok: true, command: 'client:add', clientId: expect.any(String), clientSecret: expect.stringMatching(/^[\w-]{43}$/) });
    expect(added.stdout.trim().split('\n')).toHaveLength(1);
    // The audit line went to stderr (pino JSON with level 30), never to stdout.
    expect(added.stderr).toContain('audit event');
    const listed = JSON.parse((await chatty('client:list', '--json')).stdout) as { clients: Array<{ clientId: string }> };
    expect(listed.clients.map((client) => client.clientId)).toContain(parsed.clientId);
    const missing = await chatty('client:delete', '--client-id', 'no-such-client', '--json').catch((error: { code: number; stdout: string }) => error);
    expect(missing).toMatchObject({ code: 1 });
    expect(JSON.parse((missing as { stdout: string }).stdout)).toEqual({ ok: false, error: { code: 'cli_not_found', message: 'No such client.' } });
    await chatty('client:delete', '--client-id', parsed.clientId);
  });

  it('prints its usage for --help, -h and no command, exit 0', async () => {
    for (const args of [['--help'], ['-h'], [], ['client:add', '--help']]) {
      const { stdout } = await cli(...args);
      expect(stdout).toMatch(/^Usage: npm run cli -- <command>/);
      expect(stdout).toContain('client:add --name N');
    }
  });

  it('explains wrong usage (exit 2) and refuses a missing face', async () => {
    await expect(cli('nonsense')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command "nonsense"') });
    await expect(cli('client:add', '--redirect-uri', 'https://x.example/cb')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--name is required') });
    await expect(cli('user:add', '--username', 'x', '--email', 'x@example.com')).rejects.toMatchObject({ stderr: expect.stringContaining('--face') });
    await expect(cli('client:add', '--bogus')).rejects.toMatchObject({ code: 2 });
  });
});
