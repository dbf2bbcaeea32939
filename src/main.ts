import { loadConfig } from './config/index.ts';
import { createHttpServer } from './http/index.ts';
import { createIdp } from './idp.ts';
import { createCommands, startOperatorApi, type OperatorApi } from './operator/index.ts';
import { createLogger, isAppError } from './shared/index.ts';

/**
 * Process entry for the IdP: configuration -> the IdP (src/idp.ts) -> listen. SIGTERM/SIGINT stop
 * accepting, drain in-flight requests, then close what the IdP opened.
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'faceid-idp' });
if (config.mode === 'demo') {
  logger.warn({ dataDir: config.dataDir }, 'DEMO MODE: secrets are generated into the data directory; set FACEID_MODE=production with real secrets for any real use');
}

let idp: Awaited<ReturnType<typeof createIdp>>;
try {
  idp = await createIdp(config, { logger });
} catch (error) {
  // A refusal we raised on purpose (the embedded database is in use, a bad setting): its message, no stack.
  if (!isAppError(error)) throw error;
  process.stderr.write(`error (${error.code}): ${error.message}\n`);
  process.exit(1);
}
// The embedded database is this process's alone (src/db/lock.ts): operator commands (npm run cli)
// reach it through this process, on a socket in DATA_DIR. PostgreSQL serves them directly.
let operator: OperatorApi | undefined;
if (idp.services.database.kind === 'pglite') {
  try {
    operator = await startOperatorApi({ dataDir: config.dataDir, commands: createCommands(idp.services), logger });
  } catch (err) {
    // The IdP still serves sign-ins; the CLI will say the database is in use (e.g. a socket path too long for the OS).
    logger.error({ err }, 'operator socket not available: npm run cli cannot reach this process');
  }
}
const server = createHttpServer(idp.callback!, { requestTimeoutMs: config.requestTimeoutMs });
server.once('error', (error: NodeJS.ErrnoException) => {
  // Not a stack for a port in use: which port, and the variable that moves it.
  if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
  process.stderr.write(`error (${error.code}): port ${config.port} on ${config.host} is not available (PORT, HOST move it).\n`);
  process.exit(1);
});
server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ issuer: config.issuer, port, database: idp.services.database.kind }, `FaceID-FHE listening on http://${config.host}:${port}`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: draining requests');
  const forced = setTimeout(() => {
    logger.error('drain timed out; exiting');
    process.exit(1);
  }, 15_000);
  forced.unref();
  // Stop accepting; in-flight requests finish; idle keep-alive connections are closed.
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await operator?.close();
  await idp.close();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
