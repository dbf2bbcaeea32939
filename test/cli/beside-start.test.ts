import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/index.ts';
import { HttpClient } from '../../support/http-client.ts';
import { jpeg, people } from '../../support/parts.ts';
import { REDIRECT_URI, authRequest, discover, exchange, signInOverHttp } from '../../support/signin.ts';

const run = promisify(execFile);

/**
 * Issue 13, item 1: with the demo running (`npm start`, the embedded database), the CLI opened the
 * same PGlite directory in a second process; the client it added answered invalid_client, was
 * gone after a restart, and the next write broke audit_events_pkey. Now the IdP holds the
 * directory (a lock) and carries out the CLI's commands itself (its operator socket). Here, as an
 * operator would: npm start, the CLI adds a client and a user, both sign in together, npm start
 * again on the same DATA_DIR, and both are still there, with their audit events.
 */
const freePort = () => new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as AddressInfo;
    probe.close(() => resolve(port));
  });
});

describe('the CLI beside a running npm start (embedded database)', () => {
  const root = mkdtempSync(join(tmpdir(), 'faceid-beside-'));
  const dataDir = join(root, 'data');
  let demo: ChildProcess | undefined;
  let output = '';
  let issuer: string;
  let env: NodeJS.ProcessEnv;
  const faceFiles: string[] = [];
  let client: { clientId: string; clientSecret: string };
  let accountId: string;

  async function startDemo(): Promise<void> {
    output = '';
    const child = spawn(process.execPath, ['scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (const deadline = Date.now() + 150_000; !output.includes('FaceID-FHE is running'); ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up: ${output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function stopDemo(): Promise<void> {
    const child = demo!;
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    child.kill('SIGINT');
    await exited;
    demo = undefined;
  }

  // LOG_LEVEL=info: the CLI's logs must stay off stdout even when they are on.
  const cli = (...args: string[]) => run(process.execPath, ['src/cli/index.ts', ...args], { env: { ...env, LOG_LEVEL: 'info' }, timeout: 120_000 });
  const cliJson = async (...args: string[]) => {
    const { stdout } = await cli(...args, '--json');
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  /** The new user signs in at the new client: code flow, tokens, an ID token for that client. */
  async function signInWithBoth(): Promise<void> {
    const config = await discover(issuer, client.clientId, client.clientSecret);
    const request = await authRequest(config);
    const frames = (await people()).a.verify.map(jpeg);
    const { callback, last } = await signInOverHttp(new HttpClient(issuer), request, 'beside', frames);
    expect(callback.searchParams.get('code'), last.text).toBeTruthy();
    const tokens = await exchange(config, callback, request);
    expect(tokens.claims()).toMatchObject({ aud: client.clientId, sub: accountId });
  }

  beforeAll(async () => {
    const [port, rpPort] = [await freePort(), await freePort()];
    issuer = `http://localhost:${port}`;
    env = { ...process.env, DATA_DIR: dataDir, CUSTODIAN_KEY_DIR: join(root, 'custodian-data'), PORT: String(port), RP_PORT: String(rpPort), LOG_LEVEL: 'warn', FACE_WORKERS: '1', LIVENESS: 'off' }; // signs in with still pictures: no camera check
    delete env.DATABASE_URL; // the embedded default
    delete env.SAMPLE_RP_URL;
    (await people()).a.enroll.forEach((frame, index) => {
      const file = join(root, `face-${index}.jpg`);
      writeFileSync(file, frame);
      faceFiles.push(file);
    });
    await startDemo();
  }, 200_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null) await stopDemo();
    rmSync(root, { recursive: true, force: true });
  });

  it('adds a client and a user while the IdP runs; they sign in together at once', async () => {
    const added = await cliJson('client:add', '--name', 'Beside RP', '--redirect-uri', REDIRECT_URI);
    expect(added).toMatchObject({ ok: true, command: 'client:add', clientId: expect.any(String), clientSecret: expect.stringMatching(/^[\w-]{43}$/) });
    client = { clientId: added.clientId as string, clientSecret: added.clientSecret as string };
    const user = await cliJson('user:add', '--username', 'beside', '--email', 'beside@example.com', ...faceFiles.flatMap((file) => ['--face', file]));
    expect(user).toMatchObject({ ok: true, username: 'beside', images: faceFiles.length });
    accountId = user.accountId as string;
    await signInWithBoth();
    // Text output too, and nothing but the command's lines on stdout.
    const listed = await cli('client:list');
    expect(listed.stdout).toContain(client.clientId);
    expect(listed.stdout).not.toMatch(/"level"|audit event/);
  }, 120_000);

  it('refuses a second process on the data directory, naming the directory and the holder', async () => {
    let refused: unknown;
    try {
      const database = connectDatabase({ url: undefined, dataDir });
      await database.knex.raw('select 1');
      await database.close();
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({ code: 'database_locked', message: expect.stringContaining(join(dataDir, 'pglite')) });
    expect((refused as Error).message).toMatch(/in use by process \d+/);

    // A second IdP (npm run idp) on the same DATA_DIR: refused before it loads anything, no stack.
    const second = await run(process.execPath, ['src/main.ts'], { env: { ...env, PORT: '0' }, timeout: 60_000 }).catch((error: { code: number; stderr: string }) => error);
    expect(second).toMatchObject({ code: 1 });
    expect((second as { stderr: string }).stderr).toContain(`error (database_locked): The embedded database in ${join(dataDir, 'pglite')} is in use by process`);
    expect((second as { stderr: string }).stderr).not.toMatch(/\n\s+at /);

    // A second npm start on it: refused before it starts a custodian or announces anything.
    const again = await run(process.execPath, ['scripts/start.ts'], { env: { ...env, PORT: String(await freePort()), RP_PORT: String(await freePort()) }, timeout: 60_000 }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('is in use by process') });
    expect((again as { stdout: string }).stdout).not.toContain('running');
  }, 90_000);

  it('the operator socket: owner-only files, and a request without the token changes nothing', async () => {
    const operatorDir = join(dataDir, 'operator');
    expect(statSync(operatorDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(operatorDir, 'operator.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(operatorDir, 'token')).mode & 0o777).toBe(0o600);
    const attempt = (authorization: string | undefined) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = JSON.stringify({ command: 'client:add', options: { name: 'Intruder', 'redirect-uri': ['https://evil.example/cb'], 'client-id': 'intruder' }, faces: [] });
      const req = http.request({ socketPath: join(operatorDir, 'operator.sock'), path: '/v1/command', method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${'A'.repeat(43)}`]) {
      const answer = await attempt(authorization);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toMatchObject({ ok: false, error: { code: 'operator_unauthorized' } });
    }
    expect((await cli('client:list')).stdout).not.toContain('intruder');
  });

  it('after a restart on the same DATA_DIR: the client and the user are there, with their audit events', async () => {
    await stopDemo();
    // Stopped: the directory is free again (the lock went with the IdP), and a direct CLI works.
    expect((await cli('client:list')).stdout).toContain(client.clientId);
    await startDemo();
    await signInWithBoth();
    // The next writes work (issue 13: duplicate key value violates unique constraint "audit_events_pkey").
    const more = await cliJson('client:add', '--name', 'After restart', '--redirect-uri', REDIRECT_URI);
    expect(more).toMatchObject({ ok: true });
    const users = await cliJson('user:list');
    expect(users.users).toEqual([expect.objectContaining({ id: accountId, username: 'beside' })]);
    await stopDemo();

    const database = connectDatabase({ url: undefined, dataDir });
    try {
      const events = (await database.knex('audit_events').select('type', 'client_id', 'account_id', 'outcome').orderBy('id')) as Array<{ type: string; client_id: string | null; account_id: string | null; outcome: string }>;
      expect(events.filter((event) => event.type === 'client_added').map((event) => event.client_id)).toEqual([client.clientId, more.clientId]);
      expect(events.filter((event) => event.type === 'signup' && event.account_id === accountId)).toHaveLength(1);
      expect(events.filter((event) => event.type === 'signin' && event.outcome === 'success' && event.account_id === accountId && event.client_id === client.clientId)).toHaveLength(2);
    } finally {
      await database.close();
    }
  }, 300_000);
});
