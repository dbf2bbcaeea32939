import { createLogger, isAppError } from '../shared/index.ts';
import { loadCustodianConfig } from './internal/config.ts';
import { startCustodian } from './internal/custodian.ts';

/**
 * Process entry of the key custodian (`npm run custodian`): the only process that holds the HE
 * secret key. Configured by its own environment (internal/config.ts). When started by
 * spawnCustodian it reports readiness over the IPC channel and exits with its parent.
 */
async function main(): Promise<void> {
  // Everything this process creates (registry, audit log, socket) is for its own user only.
  process.umask(0o077);
  let config;
  try {
    config = loadCustodianConfig(process.env);
  } catch (error) {
    process.stderr.write(`custodian: ${isAppError(error) ? error.message : String(error)}\n`);
    process.exit(78); // EX_CONFIG
  }
  const logger = createLogger({ name: 'custodian', level: config.logLevel });
  const custodian = await startCustodian(config, { logger });

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'custodian stopping');
    custodian.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.send) {
    process.on('disconnect', () => stop('parent gone'));
    process.send({ type: 'ready', address: custodian.address, metricsAddress: custodian.metricsAddress, paramsVersion: custodian.paramsVersion });
  }
}

main().catch((error: unknown) => {
  // A refusal to start (wrong sealing key, store locked...) says why on stderr, for whoever started us.
  if (isAppError(error)) process.stderr.write(`custodian: ${error.message}\n`);
  const logger = createLogger({ name: 'custodian' });
  logger.fatal({ err: error }, 'custodian failed');
  process.exit(1);
});
