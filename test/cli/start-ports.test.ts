import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Issue 13, item 2: with the sample RP's port taken, `npm start` printed its "running, open
 * http://localhost:3001" banner (its readiness probe had reached the other server), then died
 * with a raw EADDRINUSE stack. Now every port is checked before anything starts.
 */
const listen = (port = 0) => new Promise<Server>((resolve) => {
  const server = createServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')).listen(port, '127.0.0.1', () => resolve(server));
});
const portOf = (server: Server) => (server.address() as AddressInfo).port;
const freePort = async () => {
  const server = await listen();
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
};

describe('npm start with a port taken', () => {
  const root = mkdtempSync(join(tmpdir(), 'faceid-ports-'));
  const servers: Server[] = [];

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(root, { recursive: true, force: true });
  });

  async function startWith(taken: 'PORT' | 'RP_PORT') {
    // The other server answers HTTP 200 to anything, as the one in the issue did.
    const other = await listen();
    servers.push(other);
    const ports = { PORT: String(await freePort()), RP_PORT: String(await freePort()), [taken]: String(portOf(other)) };
    const custodianDir = join(root, `custodian-${taken}`);
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: join(root, `data-${taken}`), CUSTODIAN_KEY_DIR: custodianDir, ...ports, LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.SAMPLE_RP_URL;
    const result = await run(process.execPath, ['scripts/start.ts'], { env, timeout: 60_000 }).then(
      (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    return { ...result, port: portOf(other), custodianStarted: existsSync(custodianDir) };
  }

  it.each([
    ['RP_PORT', 'the sample relying party'],
    ['PORT', 'the identity provider'],
  ] as const)('%s taken: exits 1 naming the port and the variable, starts nothing, announces nothing', async (variable, what) => {
    const result = await startWith(variable);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`port ${result.port} (${variable}, ${what}) is already in use`);
    expect(result.stderr).toContain(`${variable}=<free port> npm start`);
    expect(result.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
    expect(result.stdout).not.toMatch(/running|Starting/);
    expect(result.custodianStarted).toBe(false);
  });
});
