import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoSecrets } from '../src/config/index.ts';
import { spawnCustodian, type SpawnedCustodian } from '../src/custodian/index.ts';

/**
 * The IdP as its own OS process (`node src/main.ts`, what `npm run idp` runs), on the embedded
 * database in a fresh DATA_DIR, with a custodian process in a directory of its own: for attacks
 * whose proof is that the process survives (or exits cleanly). The port is the one the process
 * reports it bound (PORT=0), so there is no free-port race.
 */
export interface IdpProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  custodian: SpawnedCustodian;
  /** Everything the process wrote to stderr, and to stdout (its JSON log lines). */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  alive(): boolean;
  /** Resident memory of the IdP process in bytes (Linux /proc). */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

export async function startIdpProcess(env: Record<string, string> = {}): Promise<IdpProcess> {
  const root = mkdtempSync(join(tmpdir(), 'faceid-proc-'));
  const dataDir = join(root, 'data');
  const secrets = ensureDemoSecrets(dataDir);
  const custodian = await spawnCustodian({
    keyDir: join(root, 'custodian-data'),
    socketPath: join(dataDir, 'custodian.sock'),
    sharedSecret: secrets.custodianSharedSecret,
    demo: true,
    env: { CUSTODIAN_LOG_LEVEL: 'warn', CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '1000', CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '1000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '100000' },
  });
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'info',
    FACE_WORKERS: '1',
    SAMPLE_RP_URL: 'http://rp.example.test',
    SAMPLE_RP_CLIENT_SECRET: randomBytes(32).toString('base64url'),
    // Tests that post still pictures run without presentation-attack detection (a deployment
    // setting); the PAD tests turn it on.
    LIVENESS: 'off',
    ...env,
  };
  delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ['src/main.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the IdP did not start: ${stderr.slice(-2000)}`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString()).slice(-20_000);
      const found = /listening on http:\/\/[^:]+:(\d+)/.exec(stdout);
      if (found) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the IdP exited during start (${code}): ${stderr.slice(-2000)}`));
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    custodian,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async rssBytes() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await custodian.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
