import { join } from 'node:path';
import { systemClock, type Clock, type Logger } from '../../shared/index.ts';
import { createHeContext } from '../../he/index.ts';
import { createAuditLog } from './audit.ts';
import type { CustodianConfig } from './config.ts';
import { createJudge } from './judge.ts';
import { deriveKey, ensurePrivateDirectory, loadOrCreateKeys, resolveSealingKey } from './keystore.ts';
import { startListener, type Listener } from './listener.ts';
import { createRateLimiter } from './rateLimit.ts';
import { createCustodianService } from './service.ts';
import { createTicketStore } from './tickets.ts';

/** Composition of the custodian: keys, judge, tickets, limits, audit, listener. */
export interface RunningCustodian {
  readonly address: Listener['address'];
  readonly paramsVersion: string;
  close(): Promise<void>;
}

export async function startCustodian(config: CustodianConfig, deps: { logger: Logger; clock?: Clock }): Promise<RunningCustodian> {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  ensurePrivateDirectory(config.keyDir);
  const sealingKey = resolveSealingKey(config.keyDir, config.sealingKey, logger);
  const he = await createHeContext(config.paramsVersion);
  const cleanup: (() => void)[] = [() => he.close()];
  try {
    const keys = loadOrCreateKeys(he, config.keyDir, sealingKey, { allowCreate: config.createKey, logger });
    cleanup.push(() => keys.secretKey.delete());
    const judge = createJudge(he, keys.secretKey, keys.keyId);
    cleanup.push(() => judge.close());
    const audit = createAuditLog({ path: join(config.keyDir, 'audit.log'), subjectKey: deriveKey(sealingKey, 'audit-subject'), clock });
    cleanup.push(() => audit.close());
    audit.record({ op: 'start', outcome: keys.created ? 'created_key' : 'loaded_key' });
    const minute = 60_000;
    const service = createCustodianService({
      paramsVersion: he.params.version,
      publicKey: keys.publicKey,
      keyId: keys.keyId,
      judge,
      tickets: createTicketStore({ clock, ttlMs: config.ticketTtlMs }),
      limiter: createRateLimiter({
        clock,
        perSubject: [
          { limit: config.rateLimits.subjectPerMinute, windowMs: minute },
          { limit: config.rateLimits.subjectPerHour, windowMs: 60 * minute },
        ],
        global: [{ limit: config.rateLimits.globalPerMinute, windowMs: minute }],
      }),
      audit,
      logger,
    });
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
    logger.info({ paramsVersion: he.params.version, keyCreated: keys.created, address: listener.address }, 'custodian listening');
    let closing: Promise<void> | undefined;
    return {
      address: listener.address,
      paramsVersion: he.params.version,
      close() {
        closing ??= listener.close().then(() => {
          for (const step of cleanup.reverse()) step();
        });
        return closing;
      },
    };
  } catch (error) {
    for (const step of cleanup.reverse()) step();
    throw error;
  }
}
