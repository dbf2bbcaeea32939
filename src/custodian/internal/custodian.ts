import { join } from 'node:path';
import { AppError, createCloseStack, systemClock, type Clock, type Logger } from '../../shared/index.ts';
import { createHeContext } from '../../he/keyside.ts';
import { createAuditLog } from './audit.ts';
import { createBudget } from './budget.ts';
import type { CustodianConfig } from './config.ts';
import { createJudge } from './judge.ts';
import { createKeySealer, deriveCustodianKey, ensurePrivateDirectory, resolveSealingKey } from './keys.ts';
import { startListener, type Listener } from './listener.ts';
import { createCustodianMetrics, serveMetrics } from './metrics.ts';
import { openRegistry } from './registry.ts';
import { createCustodianService } from './service.ts';
import { createTicketStore } from './tickets.ts';

/** Composition of the custodian: store, keys, budgets, judge, tickets, audit, metrics, listener. */
export interface RunningCustodian {
  readonly address: Listener['address'];
  readonly metricsAddress: { host: string; port: number } | undefined;
  readonly paramsVersion: string;
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60_000;

export async function startCustodian(config: CustodianConfig, deps: { logger: Logger; clock?: Clock }): Promise<RunningCustodian> {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  ensurePrivateDirectory(config.keyDir);
  const sealingKey = resolveSealingKey(config.keyDir, config.sealingKey, logger);
  const he = await createHeContext(config.paramsVersion);
  // Closed in reverse order (LIFO), also when start-up fails half-way.
  const stack = createCloseStack();
  stack.defer(() => he.close());
  try {
    const registry = openRegistry(config.keyDir);
    stack.defer(() => registry.close());
    const sealer = createKeySealer(sealingKey);
    const canary = registry.meta('sealing-check');
    if (!canary) registry.putMeta('sealing-check', sealer.canary());
    else if (!sealer.checkCanary(canary)) {
      throw new AppError('custodian_key_store_invalid', `The sealing key does not open the store in ${config.keyDir} (wrong CUSTODIAN_SEALING_KEY, or another custodian's directory).`);
    }
    const audit = createAuditLog({ path: join(config.keyDir, 'audit.log'), subjectKey: deriveCustodianKey(sealingKey, 'audit-subject'), clock });
    stack.defer(() => audit.close());
    audit.record({ op: 'start', outcome: 'started', detail: { subjects: registry.subjects() } });
    const metrics = createCustodianMetrics();
    metrics.subjects.set(registry.subjects());
    const service = createCustodianService({
      he,
      registry,
      sealer,
      budget: createBudget(registry, config.budget),
      judge: createJudge(he),
      tickets: createTicketStore({ clock, ttlMs: config.ticketTtlMs }),
      audit,
      metrics,
      clock,
      logger,
    });
    const prune = () => registry.prune(clock.now() - 2 * DAY, clock.now() - 60 * 60_000);
    prune();
    const sweeper = setInterval(prune, 10 * 60_000);
    sweeper.unref();
    stack.defer(() => clearInterval(sweeper));
    const listener = await startListener({
      socketPath: config.socketPath,
      listen: config.listen,
      sharedSecret: config.sharedSecret,
      maxFrameBytes: config.maxFrameBytes,
      clockSkewMs: config.clockSkewMs,
      clock,
      service,
      logger,
    });
    stack.defer(() => listener.close());
    const metricsServer = config.metricsListen ? await serveMetrics(metrics, config.metricsListen, logger) : undefined;
    if (metricsServer) stack.defer(() => metricsServer.close());
    logger.info({ paramsVersion: he.params.version, subjects: registry.subjects(), address: listener.address }, 'custodian listening');
    return {
      address: listener.address,
      metricsAddress: metricsServer?.address,
      paramsVersion: he.params.version,
      close: () => stack.close(),
    };
  } catch (error) {
    await stack.close();
    throw error;
  }
}
