import { hkdfSync } from 'node:crypto';
import { Router } from '@koa/router';
import type { Provider } from 'oidc-provider';
import { createAccountService } from './accounts/index.ts';
import { createAudit } from './audit/index.ts';
import { createBiometricService, type CustodianPort, type FacePort, type HePort } from './biometric/index.ts';
import type { Config } from './config/index.ts';
import {
  createAccountQueries,
  createAuditQueries,
  createClientQueries,
  createOidcPayloadQueries,
  createSigningKeyQueries,
  createTemplateQueries,
  type Database,
} from './db/index.ts';
import { createCsrf, createViews, errorHandler, securityHeaders, staticFiles, wantsJson } from './http/index.ts';
import { createInteractionFlow } from './interaction/flow.ts';
import { createInteractionRouter } from './interaction/router.ts';
import { createSigningKeys } from './keys/index.ts';
import { createAdapterClass, createClientRegistry, createProvider } from './oidc/index.ts';
import { createSealer } from './sealing/index.ts';
import type { Logger } from './shared/index.ts';

/**
 * The composition root: the only file that wires every module together. Everything it needs
 * from outside (configuration, database, face engine, custodian) is passed in, so tests build
 * the same app with an in-memory database or a stopped custodian.
 */

export interface CustodianLink extends CustodianPort {
  publicKey(): Promise<{ paramsVersion: string; publicKey: Uint8Array }>;
  health(): Promise<unknown>;
}

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  face: FacePort;
  custodian: CustodianLink;
  /** Builds the public-key HE engine from the custodian's published key. */
  createHe: (key: { paramsVersion: string; publicKey: Uint8Array }) => Promise<HePort>;
  matchThreshold: number;
  /** Frames per capture on the camera pages. */
  captureFrames?: { signIn: number; enroll: number };
  frameLimits?: { maxFiles: number; maxFileBytes: number };
}

export interface App {
  provider: Provider;
  callback: ReturnType<Provider['callback']>;
  clients: ReturnType<typeof createClientRegistry>;
  accounts: ReturnType<typeof createAccountService>;
  close(): Promise<void>;
}

const derive = (key: Uint8Array, purpose: string) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `faceid-fhe:${purpose}`, 32));

export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger, database } = deps;
  const db = database.knex;
  const sealer = createSealer(config.sealingKey);
  const views = createViews();

  const queries = {
    accounts: createAccountQueries(db),
    templates: createTemplateQueries(db),
    audit: createAuditQueries(db),
    clients: createClientQueries(db),
    payloads: createOidcPayloadQueries(db),
    signingKeys: createSigningKeyQueries(db),
  };
  const audit = createAudit({ queries: queries.audit, logger, pseudonymKey: derive(config.sealingKey, 'audit-pseudonym') });
  const accounts = createAccountService({ db, accounts: queries.accounts, templates: queries.templates, payloads: queries.payloads, audit });
  const clients = createClientRegistry({ clients: queries.clients, sealer });
  const signingKeys = createSigningKeys({ db, queries: queries.signingKeys, sealer });

  // The HE engine needs the custodian's public key; fetch it lazily so the IdP starts (and says
  // "not ready") while the custodian is down, and retry on the next request after a failure.
  let he: Promise<HePort> | undefined;
  const heEngine = () => {
    he ??= deps.custodian.publicKey().then(deps.createHe);
    he.catch(() => {
      he = undefined;
    });
    return he;
  };

  const biometric = createBiometricService({
    face: deps.face,
    he: heEngine,
    custodian: deps.custodian,
    threshold: deps.matchThreshold,
    subjectKey: derive(config.sealingKey, 'custodian-subject'),
    logger,
  });
  const flow = createInteractionFlow({ accounts, biometric, audit });

  if (config.mode === 'demo' && config.sampleRp) {
    await clients.add({
      clientId: 'sample-rp',
      name: 'Sample relying party',
      redirectUris: [new URL('/callback', config.sampleRp.url).href],
      postLogoutRedirectUris: [new URL('/', config.sampleRp.url).href],
      secret: config.sampleRp.clientSecret,
      firstParty: false,
    });
  }

  const secureCookies = config.issuer.startsWith('https://');
  const provider = createProvider({
    issuer: config.issuer,
    adapter: createAdapterClass({ payloads: queries.payloads, clients: queries.clients, sealer }),
    jwks: await signingKeys.privateJwks(),
    cookieKeys: config.cookieKeys,
    accounts: queries.accounts,
    views,
    trustProxy: config.trustProxy,
    secureCookies,
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => logger.error({ err }, 'oidc-provider server error'));

  const csrf = createCsrf({ key: derive(Buffer.from(config.cookieKeys[0]!, 'utf8'), 'csrf').toString('base64url'), secureCookies });
  const interactions = createInteractionRouter({
    provider,
    flow,
    views,
    csrf,
    frameLimits: deps.frameLimits ?? { maxFiles: 8, maxFileBytes: 4 * 1024 * 1024 },
    captureFrames: deps.captureFrames ?? { signIn: 3, enroll: 5 },
  });

  const site = new Router();
  site.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = views.render('home.njk', { sampleRpUrl: config.sampleRp?.url });
  });
  site.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  site.get('/readyz', async (ctx) => {
    const checks = { database: false, custodian: false };
    await Promise.all([
      db.raw('select 1').then(() => (checks.database = true), () => undefined),
      deps.custodian.health().then(() => (checks.custodian = true), () => undefined),
    ]);
    const ready = checks.database && checks.custodian;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });

  provider.use(securityHeaders({ hsts: secureCookies }));
  provider.use(errorHandler({ logger, views }));
  provider.use(staticFiles());
  provider.use(site.routes());
  provider.use(interactions.routes());
  provider.use(async (ctx, next) => {
    await next();
    // oidc-provider answers unknown paths with an empty 404; give browsers a readable page.
    if (ctx.status === 404 && ctx.body === undefined && !wantsJson(ctx)) {
      ctx.status = 404;
      ctx.type = 'html';
      ctx.body = views.render('error.njk', { title: 'Page not found', message: 'There is nothing at this address.', code: 'not_found', status: 404 });
    }
  });

  const sweeper = setInterval(() => {
    queries.payloads.deleteExpired().catch((err: unknown) => logger.warn({ err }, 'expired OIDC payload sweep failed'));
  }, 10 * 60 * 1000);
  sweeper.unref();

  return {
    provider,
    callback: provider.callback(),
    clients,
    accounts,
    async close() {
      clearInterval(sweeper);
    },
  };
}
