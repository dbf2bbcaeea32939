import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AppError } from '../shared/index.ts';
import { createCustodianClient, type CustodianClient } from './client.ts';

/**
 * Starts the key custodian as its own OS process (`node src/custodian/server.ts` with this
 * process's Node, so Node 22 under `npm run`), waits until it answers `health`, and returns a
 * client for it. Used by tests, benchmarks and `npm start`; in production it runs on its own.
 */
export interface SpawnCustodianOptions {
  keyDir: string;
  sharedSecret: string;
  socketPath?: string;
  /** Loopback TCP instead of a Unix socket; port 0 picks a free port. */
  host?: string;
  port?: number;
  /** 32 bytes, base64. Without it, `demo` must be true. */
  sealingKey?: string;
  demo?: boolean;
  /** Loopback host:port for the custodian's own /metrics (port 0: any free port). */
  metricsListen?: string;
  paramsVersion?: string;
  /** Further CUSTODIAN_* settings (rate limits, ticket lifetime, log level). */
  env?: Record<string, string>;
  /** Client per-call timeout. */
  timeoutMs?: number;
  readyTimeoutMs?: number;
  /** 'inherit' shows the custodian's logs; default 'ignore' (stderr is still kept for errors). */
  stdio?: 'inherit' | 'ignore';
}

export interface SpawnedCustodian {
  /** Outlives the process: after a crash and respawn on the same address it reconnects. */
  readonly client: CustodianClient;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; closes the client. */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash; the client stays open. */
  kill(): Promise<void>;
  /** Where the custodian serves /metrics, when asked to. */
  readonly metricsAddress: { host: string; port: number } | undefined;
}

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function spawnCustodian(options: SpawnCustodianOptions): Promise<SpawnedCustodian> {
  const env: Record<string, string> = {
    ...options.env,
    CUSTODIAN_KEY_DIR: options.keyDir,
    CUSTODIAN_SHARED_SECRET: options.sharedSecret,
  };
  if (options.socketPath) env.CUSTODIAN_SOCKET = options.socketPath;
  else env.CUSTODIAN_LISTEN = `${options.host ?? '127.0.0.1'}:${options.port ?? 0}`;
  if (options.sealingKey) env.CUSTODIAN_SEALING_KEY = options.sealingKey;
  if (options.demo) env.CUSTODIAN_DEMO = '1';
  if (options.metricsListen) env.CUSTODIAN_METRICS_LISTEN = options.metricsListen;
  if (options.paramsVersion) env.CUSTODIAN_PARAMS = options.paramsVersion;

  const inherit = options.stdio === 'inherit';
  // node:sqlite (the custodian's registry) prints an ExperimentalWarning on Node 22: not an error.
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', SERVER], { env, stdio: ['ignore', inherit ? 'inherit' : 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (inherit) process.stderr.write(chunk);
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });

  let metricsAddress: { host: string; port: number } | undefined;
  const address = await new Promise<{ path: string } | { host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new AppError('custodian_unavailable', 'The custodian did not become ready in time.', { status: 503 }));
    }, options.readyTimeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new AppError('custodian_unavailable', 'The custodian could not be started.', { status: 503, cause: error }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new AppError('custodian_unavailable', `The custodian exited during start (${signal ?? code}): ${stderr.trim().slice(-500)}`, { status: 503 }));
    });
    child.on('message', (message: { type?: string; address?: unknown; metricsAddress?: { host: string; port: number } }) => {
      if (message?.type !== 'ready') return;
      clearTimeout(timer);
      metricsAddress = message.metricsAddress;
      const bound = message.address;
      resolve(typeof bound === 'string' ? { path: bound } : (bound as { host: string; port: number }));
    });
  });
  // The IPC channel stays open (the custodian exits when it closes) without keeping us alive.
  child.channel?.unref();
  child.removeAllListeners('exit');

  const client = createCustodianClient({
    ...('path' in address ? { socketPath: address.path } : { host: address.host, port: address.port }),
    sharedSecret: options.sharedSecret,
    timeoutMs: options.timeoutMs ?? 3000,
  });
  try {
    await client.health();
  } catch (error) {
    client.close();
    child.kill('SIGKILL');
    throw error;
  }

  return {
    client,
    pid: child.pid!,
    metricsAddress,
    async stop() {
      client.close();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGTERM');
      await exited(child);
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
