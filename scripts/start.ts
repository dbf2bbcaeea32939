import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDemoSecrets, loadConfig } from '../src/config/index.ts';
import { spawnCustodian } from '../src/custodian/index.ts';
import { lockedError, lockHolder, pgliteDirectory } from '../src/db/index.ts';

/**
 * `npm start`: the whole demo on one machine with the embedded database — the key custodian (its
 * own process, own key directory), the IdP, and the sample relying party — then prints where to
 * click "Sign in". Ctrl-C stops all three.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const rpPort = Number(process.env.RP_PORT ?? 3001);
const rpHost = process.env.RP_HOST ?? '127.0.0.1';
const rpUrl = `http://localhost:${rpPort}`;
const env = { ...process.env, SAMPLE_RP_URL: process.env.SAMPLE_RP_URL ?? rpUrl };

/** Refuses to start: a message for people on stderr, no stack, exit 1. */
function refuse(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

const config = (() => {
  try {
    return loadConfig(env);
  } catch (error) {
    return refuse((error as Error).message);
  }
})();
if (config.mode !== 'demo') refuse('npm start runs the demo; start the custodian (npm run custodian) and the IdP (npm run idp) separately in production.');

/** Whether something already listens on host:port (we try to bind it ourselves, then let go). */
function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolveTaken) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolveTaken(error.code === 'EADDRINUSE' || error.code === 'EACCES'));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolveTaken(false)));
  });
}

/**
 * Every port this script binds, checked before anything starts or is announced (issue 13: with
 * the sample RP's port taken, the readiness probe reached the other server, the banner said
 * "running", then the RP died of EADDRINUSE). Each on the address its process binds, and on every
 * address of `localhost`, which the banner's links (and the browser) use.
 */
async function checkPorts(ports: Array<{ port: number; host: string; variable: string; what: string }>): Promise<void> {
  const localhost = (await lookup('localhost', { all: true }).catch(() => [])).map((entry) => entry.address);
  for (const { port, host, variable, what } of ports) {
    if (port === 0) continue;
    for (const address of new Set([host, ...localhost])) {
      if (await portTaken(address, port)) {
        refuse(`port ${port} (${variable}, ${what}) is already in use on ${address}. Stop what uses it, or choose another port: ${variable}=<free port> npm start`);
      }
    }
  }
}

await checkPorts([
  { port: config.port, host: config.host, variable: 'PORT', what: 'the identity provider' },
  { port: rpPort, host: rpHost, variable: 'RP_PORT', what: 'the sample relying party' },
  ...(config.custodian.port !== undefined ? [{ port: config.custodian.port, host: config.custodian.host ?? '127.0.0.1', variable: 'CUSTODIAN_LISTEN', what: 'the key custodian' }] : []),
]);
ensureDemoSecrets(config.dataDir);
// The embedded database is one process's (src/db/lock.ts): a second npm start on the same
// DATA_DIR would otherwise start a custodian on the first one's socket before the IdP is refused.
const holder = lockHolder(pgliteDirectory(config.dataDir));
if (holder) refuse(lockedError(pgliteDirectory(config.dataDir), holder).message);
// The custodian's own trust zone: its key store, sealing key and audit log, in a directory of its
// own that the IdP never reads (not inside DATA_DIR): a copy of the IdP's data decrypts nothing.
const custodianDir = resolve(process.env.CUSTODIAN_KEY_DIR ?? 'custodian-data');

const children: ChildProcess[] = [];
let stopping = false;

console.log('Starting the key custodian…');
const custodian = await spawnCustodian({
  keyDir: custodianDir,
  socketPath: config.custodian.socketPath,
  // CUSTODIAN_LISTEN instead of a socket: where the IdP will look for it.
  ...(config.custodian.socketPath ? {} : { host: config.custodian.host, port: config.custodian.port }),
  sharedSecret: config.custodian.sharedSecret,
  // Demo: the custodian makes its own sealing key, inside its own directory.
  demo: true,
  stdio: 'inherit',
});

const start = (name: string, script: string, extraEnv: Record<string, string>) => {
  const child = spawn(process.execPath, [join(root, script)], { env: { ...env, ...extraEnv }, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping everything.`);
      void stopAll(1);
    }
  });
  children.push(child);
  return child;
};

/** Waits until `url` answers, as long as `child` (the process that should answer it) lives. */
async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Whatever answers once our process is gone is not ours (stopAll is on its way).
    if (stopping || child.exitCode !== null || child.signalCode !== null) await new Promise(() => undefined);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.error(`${url} did not answer within ${timeoutMs / 1000} s; stopping everything.`);
  await stopAll(1);
}

async function stopAll(code: number): Promise<void> {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  await custodian.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

console.log('Starting the identity provider (loading face models)…');
const idpProcess = start('IdP', 'src/main.ts', {});
await waitFor(`${config.issuer}/healthz`, idpProcess, 120_000);
const rpProcess = start('sample relying party', 'examples/relying-party/server.ts', {
  RP_PORT: String(rpPort),
  RP_ISSUER: config.issuer,
  RP_CLIENT_ID: 'sample-rp',
  RP_CLIENT_SECRET: config.sampleRp!.clientSecret,
});
await waitFor(rpUrl, rpProcess, 30_000);
if (stopping) await new Promise(() => undefined);

console.log(`
  FaceID-FHE is running on the embedded database (${config.dataDir});
  the key custodian keeps its keys apart, in ${custodianDir}.

    Sample application:  ${rpUrl}   <- open this and click "Sign in with FaceID-FHE"
    Identity provider:   ${config.issuer}
    Discovery:           ${config.issuer}/.well-known/openid-configuration

  Press Ctrl-C to stop.
`);
