import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDemoSecrets, loadConfig } from '../src/config/index.ts';
import { spawnCustodian } from '../src/custodian/index.ts';

/**
 * `npm start`: the whole demo on one machine with the embedded database — the key custodian (its
 * own process, own key directory), the IdP, and the sample relying party — then prints where to
 * click "Sign in". Ctrl-C stops all three.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const rpPort = Number(process.env.RP_PORT ?? 3001);
const rpUrl = `http://localhost:${rpPort}`;
const env = { ...process.env, SAMPLE_RP_URL: process.env.SAMPLE_RP_URL ?? rpUrl };
const config = loadConfig(env);
if (config.mode !== 'demo') throw new Error('npm start runs the demo; start the custodian (npm run custodian) and the IdP (npm run idp) separately in production.');
ensureDemoSecrets(config.dataDir);
// The custodian's own trust zone: its key store, sealing key and audit log, in a directory of its
// own that the IdP never reads (not inside DATA_DIR): a copy of the IdP's data decrypts nothing.
const custodianDir = resolve(process.env.CUSTODIAN_KEY_DIR ?? 'custodian-data');

const children: ChildProcess[] = [];
let stopping = false;

console.log('Starting the key custodian…');
const custodian = await spawnCustodian({
  keyDir: custodianDir,
  socketPath: config.custodian.socketPath,
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

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
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
start('IdP', 'src/main.ts', {});
await waitFor(`${config.issuer}/healthz`, 120_000);
start('sample relying party', 'examples/relying-party/server.ts', {
  RP_PORT: String(rpPort),
  RP_ISSUER: config.issuer,
  RP_CLIENT_ID: 'sample-rp',
  RP_CLIENT_SECRET: config.sampleRp!.clientSecret,
});
await waitFor(rpUrl, 30_000);

console.log(`
  FaceID-FHE is running on the embedded database (${config.dataDir});
  the key custodian keeps its keys apart, in ${custodianDir}.

    Sample application:  ${rpUrl}   <- open this and click "Sign in with FaceID-FHE"
    Identity provider:   ${config.issuer}
    Discovery:           ${config.issuer}/.well-known/openid-configuration

  Press Ctrl-C to stop.
`);
