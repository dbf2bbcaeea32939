import { hkdfSync } from 'node:crypto';
import { createAccountService } from './accounts/index.ts';
import { createAudit } from './audit/index.ts';
import { createBiometricService, type CustodianPort, type FacePort, type HePort } from './biometric/index.ts';
import type { Config } from './config/index.ts';
import {
  createAccountQueries,
  createAuditQueries,
  createClientQueries,
  createCustodianForgetQueries,
  createDeviceQueries,
  createOidcPayloadQueries,
  createSigningKeyQueries,
  createTemplateQueries,
  createTotpQueries,
  type Database,
} from './db/index.ts';
import type { DEFAULT_POLICIES, DEFAULT_RATES } from './interaction/flow.ts';
import { createInteractionFlow } from './interaction/flow.ts';
import { createSigningKeys } from './keys/index.ts';
import { createClientRegistry } from './oidc/clients.ts';
import type { Metrics } from './metrics/index.ts';
import { createTotp } from './mfa/index.ts';
import { createSealer } from './sealing/index.ts';
import { createThrottle } from './throttle/index.ts';
import { systemClock, type Clock, type Logger } from './shared/index.ts';

/**
 * Every capability wired to the database and to each other, without HTTP: the app (src/app.ts)
 * and the operator CLI (src/cli) are both built on this, so they cannot drift apart.
 */

export interface CustodianLink extends CustodianPort {
  health(): Promise<unknown>;
}

export interface BiometricParts {
  face: FacePort;
  custodian: CustodianLink;
  /** The public-key HE engine (it needs no key of its own: each call brings its subject's). */
  he: HePort;
  matchThreshold: number;
}

export interface ServiceDeps extends BiometricParts {
  config: Config;
  logger: Logger;
  database: Database;
  /** Overrides of the per-IP request rates (tests that sign in many times from one address). */
  rates?: Partial<typeof DEFAULT_RATES>;
  policies?: Partial<typeof DEFAULT_POLICIES>;
  metrics?: Metrics;
  /** Time for lockouts, rates and TOTP windows (tests move it instead of sleeping). */
  clock?: Clock;
}

export const deriveKey = (key: Uint8Array, purpose: string) =>
  Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `faceid-fhe:${purpose}`, 32));

export function createServices(deps: ServiceDeps) {
  const { config, logger, database } = deps;
  const db = database.knex;
  const sealer = createSealer(config.sealingKey);
  const queries = {
    accounts: createAccountQueries(db),
    templates: createTemplateQueries(db),
    audit: createAuditQueries(db),
    clients: createClientQueries(db),
    payloads: createOidcPayloadQueries(db),
    signingKeys: createSigningKeyQueries(db),
    totp: createTotpQueries(db),
    devices: createDeviceQueries(db),
    forgets: createCustodianForgetQueries(db),
  };
  const audit = createAudit({ queries: queries.audit, logger, pseudonymKey: deriveKey(config.sealingKey, 'audit-pseudonym'), metrics: deps.metrics });
  const clients = createClientRegistry({ clients: queries.clients, sealer });
  const signingKeys = createSigningKeys({ db, queries: queries.signingKeys, sealer });

  const biometric = createBiometricService({
    face: deps.face,
    he: deps.he,
    custodian: deps.custodian,
    threshold: deps.matchThreshold,
    subjectKey: deriveKey(config.sealingKey, 'custodian-subject'),
    bindingKey: deriveKey(config.sealingKey, 'template-binding'),
    logger,
    metrics: deps.metrics,
    onTampered: (accountId, reason) => audit.record({ type: 'template_tampered', outcome: 'alert', accountId, detail: { reason } }),
  });
  const accounts = createAccountService({ db, accounts: queries.accounts, templates: queries.templates, payloads: queries.payloads, forgets: queries.forgets, audit, custodian: biometric, logger });
  const totp = createTotp({
    db,
    queries: queries.totp,
    sealer,
    pepper: deriveKey(config.sealingKey, 'recovery-code-pepper'),
    issuer: `FaceID-FHE (${new URL(config.issuer).host})`,
    clock: deps.clock,
  });
  const throttle = createThrottle({ db, clock: deps.clock });
  const flow = createInteractionFlow({
    accounts,
    biometric,
    audit,
    totp,
    throttle,
    devices: queries.devices,
    deviceKey: deriveKey(config.sealingKey, 'device-cookie'),
    clock: deps.clock ?? systemClock,
    rates: deps.rates,
    policies: deps.policies,
  });

  return { db, sealer, queries, audit, accounts, clients, signingKeys, biometric, totp, throttle, flow };
}

export type Services = ReturnType<typeof createServices>;
