import type { Provider } from 'oidc-provider';
import { createAccountService } from './accounts/index.ts';
import { createAccountRouter } from './account/index.ts';
import { createAdminRouter } from './admin/index.ts';
import { mountApp } from './app.ts';
import { createAudit } from './audit/index.ts';
import { createBiometricService, type FacePort, type HePort } from './biometric/index.ts';
import { deriveIdpKeys, type Config } from './config/index.ts';
import { createCustodianClient, type CustodianClient } from './custodian/index.ts';
import {
  connectDatabase, createAccountQueries, createAuditQueries, createClientQueries, createCustodianForgetQueries, createDeviceQueries,
  createOidcPayloadQueries, createSigningKeyQueries, createTemplateQueries, createTotpQueries, createWebauthnQueries, createConsentQueries, createLivenessQueries, isDatabaseUnavailable, migrateLatest, type Database,
} from './db/index.ts';
import { createFaceEngine, DEFAULT_MATCH_THRESHOLD, FACE_LIMITS } from './face/index.ts';
import { createHeEngine } from './he/index.ts';
import { createCsrf, createOpsRouter, createViews } from './http/index.ts';
import { createInteractionFlow, createInteractionRouter, type DEFAULT_POLICIES, type DEFAULT_RATES } from './interaction/index.ts';
import { createSigningKeys } from './keys/index.ts';
import { createMetrics, type Metrics } from './metrics/index.ts';
import { createTotp } from './mfa/index.ts';
import { createAdapterClass, createClientRegistry, createFrontchannelLogout, createProvider, seedClients } from './oidc/index.ts';
import { CAPTURE, createLiveness, type ActionGenerator, type Liveness, type LivenessFace } from './liveness/index.ts';
import { createPasskeys } from './passkeys/index.ts';
import { ACR_PASSKEY, ACR_VALUES, AMR_PAD } from './policy/index.ts';
import { createSealer } from './sealing/index.ts';
import { createCloseStack, createLogger, systemClock, type Clock, type Logger } from './shared/index.ts';
import { createThrottle } from './throttle/index.ts';

/**
 * The composition root: the only place where the modules are wired together, top to bottom —
 * ports (the outside world), keys, capabilities, the sign-in flow, the web app. `main.ts`, the
 * CLI, the tests and the benchmarks all build the IdP here; what they want different (a test
 * database, a custodian they can kill, a clock they move, no web app for the CLI) they pass as
 * overrides. What is created here is closed here, last opened first (`close`); what is passed in
 * belongs to the caller.
 */
export interface IdpOverrides {
  logger?: Logger;
  /** Time for lockouts, rates, TOTP windows (tests move it instead of sleeping). */
  clock?: Clock;
  /** A database the caller opened (and will close); migrated here unless `migrate: false`. */
  database?: Database;
  migrate?: boolean;
  /** The face engine; 'none' for processes that never look at a face (most CLI commands). */
  face?: FacePort | 'none';
  he?: HePort;
  custodian?: CustodianClient;
  metrics?: Metrics;
  /** Per-IP request rates and failure policies (tests and load benchmarks). */
  rates?: Partial<typeof DEFAULT_RATES>;
  policies?: Partial<typeof DEFAULT_POLICIES>;
  /** Presentation-attack detection: the challenge generator (tests fix it) and the face port it uses. */
  liveness?: { generate?: ActionGenerator; face?: LivenessFace };
  /** Frames per capture on the camera pages. */
  captureFrames?: { signIn: number; enroll: number };
  /** false: capabilities only, no oidc-provider and no routes (the CLI). */
  http?: boolean;
}

export interface Idp {
  readonly services: Services;
  readonly metrics: Metrics;
  /** The Koa/oidc-provider request handler (undefined with `http: false`). */
  readonly callback: ReturnType<Provider['callback']> | undefined;
  readonly provider: Provider | undefined;
  close(): Promise<void>;
}

export type Services = Awaited<ReturnType<typeof createServices>>;

const noFace = (): never => {
  throw new Error('this process runs without the face engine');
};

async function createServices(config: Config, overrides: IdpOverrides, stack: ReturnType<typeof createCloseStack>) {
  // ---- 1. ports: the outside world -----------------------------------------------------------
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, name: 'faceid-idp' });
  const clock = overrides.clock ?? systemClock;
  const metrics = overrides.metrics ?? createMetrics();
  let database = overrides.database;
  if (!database) {
    database = connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
    stack.defer(() => database!.close());
  }
  if (overrides.migrate !== false) {
    const applied = await migrateLatest(database.knex);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  }
  const db = database.knex;
  let face: FacePort;
  let livenessFace: LivenessFace | undefined = overrides.liveness?.face;
  if (overrides.face === 'none') face = { modelVersion: 'none', enroll: noFace, probe: noFace };
  else if (overrides.face) {
    face = overrides.face;
    if (!livenessFace && 'observe' in overrides.face) livenessFace = overrides.face as FacePort & LivenessFace;
  } else {
    const engine = await createFaceEngine({ workers: config.face.workers, logger });
    stack.defer(() => engine.close());
    face = engine;
    livenessFace ??= engine;
  }
  let he = overrides.he;
  if (!he) {
    const engine = await createHeEngine();
    stack.defer(() => engine.close());
    he = engine;
  }
  let custodian = overrides.custodian;
  if (!custodian) {
    // Connects on first use, so the IdP starts (and says "not ready") while the custodian is down.
    const client = createCustodianClient({
      socketPath: config.custodian.socketPath,
      host: config.custodian.host,
      port: config.custodian.port,
      sharedSecret: config.custodian.sharedSecret,
      timeoutMs: config.custodian.timeoutMs,
    });
    stack.defer(() => client.close());
    custodian = client;
  }

  // ---- 2. keys: derived from the configured secrets, in one place ----------------------------
  const keys = deriveIdpKeys(config);
  const sealer = createSealer(config.sealingKey);

  // ---- 3. capabilities ----------------------------------------------------------------------
  const queries = {
    accounts: createAccountQueries(db),
    templates: createTemplateQueries(db),
    audit: createAuditQueries(db),
    clients: createClientQueries(db),
    payloads: createOidcPayloadQueries(db, clock),
    signingKeys: createSigningKeyQueries(db),
    totp: createTotpQueries(db),
    devices: createDeviceQueries(db),
    forgets: createCustodianForgetQueries(db),
    webauthn: createWebauthnQueries(db),
    consents: createConsentQueries(db),
    liveness: createLivenessQueries(db),
  };
  const audit = createAudit({ queries: queries.audit, logger, pseudonymKey: keys.auditPseudonym, metrics });
  const clients = createClientRegistry({ clients: queries.clients, sealer });
  const signingKeys = createSigningKeys({ db, queries: queries.signingKeys, sealer });
  const biometric = createBiometricService({
    face,
    he,
    custodian,
    threshold: config.face.matchThreshold ?? DEFAULT_MATCH_THRESHOLD,
    subjectKey: keys.custodianSubject,
    bindingKey: keys.templateBinding,
    logger,
    metrics,
    onTampered: (accountId, reason) => audit.record({ type: 'template_tampered', outcome: 'alert', accountId, detail: { reason } }),
  });
  const accounts = createAccountService({ db, accounts: queries.accounts, templates: queries.templates, payloads: queries.payloads, forgets: queries.forgets, audit, custodian: biometric, logger });
  const totp = createTotp({ db, queries: queries.totp, sealer, pepper: keys.recoveryCodePepper, issuer: `FaceID-FHE (${new URL(config.issuer).host})`, clock });
  const throttle = createThrottle({ db, clock });
  const passkeys = createPasskeys({ queries: queries.webauthn, config: { rpId: config.passkeys.rpId, rpName: 'FaceID-FHE', origins: config.passkeys.origins }, userHandleKey: keys.passkeyUserHandle, clock });

  // Presentation-attack detection, on every camera page unless LIVENESS=off. It needs the real
  // engine's per-frame observations: a process without them cannot claim PAD.
  let liveness: Liveness | undefined;
  // A process without pages (the CLI: http false) takes no camera steps.
  if (config.liveness.enabled && overrides.face !== 'none' && overrides.http !== false) {
    if (!livenessFace) throw new Error('LIVENESS=on needs a face engine that observes frames (set LIVENESS=off for this face port)');
    liveness = createLiveness({ queries: queries.liveness, face: livenessFace, frameKey: keys.livenessFrame, clock, generate: overrides.liveness?.generate });
  }

  // ---- 4. the sign-in flow ------------------------------------------------------------------
  const flow = createInteractionFlow({
    accounts, biometric, audit, totp, throttle, passkeys, clock,
    passkeyOnly: config.passkeys.passkeyOnly,
    devices: queries.devices,
    deviceKey: keys.deviceCookie,
    rates: overrides.rates,
    policies: overrides.policies,
  });

  return { config, logger, clock, metrics, database, db, keys, sealer, queries, custodian, audit, clients, signingKeys, biometric, accounts, totp, throttle, passkeys, liveness, flow };
}

export async function createIdp(config: Config, overrides: IdpOverrides = {}): Promise<Idp> {
  const stack = createCloseStack();
  try {
    const services = await createServices(config, overrides, stack);
    if (overrides.http === false) return { services, metrics: services.metrics, callback: undefined, provider: undefined, close: () => stack.close() };

    // ---- 5. the web app ---------------------------------------------------------------------
    const { logger, queries, keys, sealer, metrics } = services;
    await seedClients(services.clients, { issuer: config.issuer, sampleRp: config.mode === 'demo' ? config.sampleRp : undefined });
    const views = createViews();
    const secureCookies = config.issuer.startsWith('https://');
    const provider = createProvider({
      issuer: config.issuer,
      adapter: createAdapterClass({ payloads: queries.payloads, clients: queries.clients, sealer, idKey: keys.oidcPayloadId, clock: services.clock }),
      jwks: await services.signingKeys.privateJwks(),
      cookieKeys: config.cookieKeys,
      accounts: queries.accounts,
      views,
      trustProxy: config.trustProxy,
      proxyHops: config.proxyHops,
      secureCookies,
      acrValues: ACR_VALUES.filter((acr) => acr !== ACR_PASSKEY || config.passkeys.passkeyOnly),
      amrValues: ['face', 'otp', 'hwk', 'swk', 'user', 'mfa', ...(services.liveness ? [AMR_PAD] : [])],
      pairwiseKey: keys.pairwiseSubject,
      outboundPrivateOrigins: config.outboundPrivateOrigins,
      logger,
    });
    const csrf = createCsrf({ key: keys.csrf.toString('base64url'), secureCookies });
    // Uploads stop at the face engine's own per-frame cap: a larger frame would be refused anyway.
    // A liveness burst is up to CAPTURE.maxFrames frames of a 640x480 camera (tens of kB each);
    // without PAD a capture is a few pictures of up to the face engine's own cap.
    const frameLimits = services.liveness ? { maxFiles: CAPTURE.maxFrames, maxFileBytes: 512 * 1024 } : { maxFiles: 8, maxFileBytes: FACE_LIMITS.frame.maxBytes };
    const captureFrames = overrides.captureFrames ?? { signIn: 3, enroll: 5 };
    mountApp(provider, {
      logger,
      views,
      metrics,
      secureCookies,
      isDatabaseUnavailable,
      frontchannelLogout: createFrontchannelLogout({ views, issuer: config.issuer, logger }),
      routers: [
        createOpsRouter({
          views,
          registry: metrics.registry,
          metricsToken: config.metricsToken,
          trustProxy: config.trustProxy,
          checks: { database: () => services.db.raw('select 1'), custodian: () => services.custodian.health() },
          sampleRpUrl: config.sampleRp?.url,
        }),
        createInteractionRouter({ provider, flow: services.flow, views, csrf, frameLimits, captureFrames, secureCookies, clock: services.clock, consents: services.queries.consents, liveness: services.liveness }),
        createAccountRouter({ provider, accounts: services.accounts, totp: services.totp, audit: services.audit, passkeys: services.passkeys, flow: services.flow, passkeyOnly: config.passkeys.passkeyOnly, consents: services.queries.consents, views, csrf, issuer: config.issuer, secureCookies, frameLimits, captureFrames, liveness: services.liveness }),
        createAdminRouter({
          audit: services.audit, auditEvents: queries.audit, accounts: services.accounts, accountList: queries.accounts, clients: services.clients,
          signingKeys: services.signingKeys, throttle: services.throttle, csrf, views, clock: services.clock, credentials: config.admin,
        }),
      ],
    });

    // Housekeeping: expired OIDC rows, old throttle rows and known devices, custodian deletions to retry.
    const sweeper = setInterval(() => {
      const warn = (what: string) => (err: unknown) => logger.warn({ err }, `${what} failed`);
      queries.payloads.deleteExpired().catch(warn('expired OIDC payload sweep'));
      services.throttle.sweep().catch(warn('throttle sweep'));
      services.accounts.retryForgets().catch(warn('custodian forget retry'));
      queries.devices.forgetOlderThan(new Date(services.clock.now() - 90 * 24 * 60 * 60_000)).catch(warn('known-device sweep'));
    }, 10 * 60 * 1000);
    sweeper.unref();
    stack.defer(() => clearInterval(sweeper));

    return { services, metrics, callback: provider.callback(), provider, close: () => stack.close() };
  } catch (error) {
    await stack.close().catch(() => undefined);
    throw error;
  }
}
