import { hkdfSync } from 'node:crypto';
import { createAccountService } from './accounts/index.ts';
import { createAudit } from './audit/index.ts';
import { createBiometricService, type CustodianPort, type FacePort, type HePort } from './biometric/index.ts';
import type { Config } from './config/index.ts';
import type { CustodianPublicKey } from './custodian/index.ts';
import {
  createAccountQueries,
  createAuditQueries,
  createClientQueries,
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
import type { Logger } from './shared/index.ts';

/**
 * Every capability wired to the database and to each other, without HTTP: the app (src/app.ts)
 * and the operator CLI (src/cli) are both built on this, so they cannot drift apart.
 */

export interface CustodianLink extends CustodianPort {
  publicKey(): Promise<CustodianPublicKey>;
  health(): Promise<unknown>;
}

export interface BiometricParts {
  face: FacePort;
  custodian: CustodianLink;
  /** Builds the public-key HE engine from the custodian's published key. */
  createHe: (key: CustodianPublicKey) => Promise<HePort>;
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
  };
  const audit = createAudit({ queries: queries.audit, logger, pseudonymKey: deriveKey(config.sealingKey, 'audit-pseudonym'), metrics: deps.metrics });
  const accounts = createAccountService({ db, accounts: queries.accounts, templates: queries.templates, payloads: queries.payloads, audit });
  const clients = createClientRegistry({ clients: queries.clients, sealer });
  const signingKeys = createSigningKeys({ db, queries: queries.signingKeys, sealer });

  // The HE engine needs the custodian's public key; fetch it lazily so the IdP starts (and says
  // "not ready") while the custodian is down, and retry on the next request after a failure.
  let he: Promise<HePort> | undefined;
  const heEngine = () => {
    if (he) return he;
    const p = deps.custodian.publicKey().then(deps.createHe);
    he = p;
    // One handler per fetch; it only forgets its own promise, never a newer one (after resetHe).
    p.catch(() => {
      if (he === p) he = undefined;
    });
    return p;
  };

  const biometric = createBiometricService({
    face: deps.face,
    he: heEngine,
    resetHe: () => {
      he = undefined;
    },
    custodian: deps.custodian,
    threshold: deps.matchThreshold,
    subjectKey: deriveKey(config.sealingKey, 'custodian-subject'),
    logger,
    metrics: deps.metrics,
  });
  const totp = createTotp({
    db,
    queries: queries.totp,
    sealer,
    pepper: deriveKey(config.sealingKey, 'recovery-code-pepper'),
    issuer: `FaceID-FHE (${new URL(config.issuer).host})`,
  });
  const throttle = createThrottle({ db });
  const flow = createInteractionFlow({ accounts, biometric, audit, totp, throttle, rates: deps.rates, policies: deps.policies });

  return { db, sealer, queries, audit, accounts, clients, signingKeys, biometric, totp, throttle, flow };
}

export type Services = ReturnType<typeof createServices>;
