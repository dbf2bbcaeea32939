import { Router } from '@koa/router';
import type { Provider } from 'oidc-provider';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import { FACE_LIMITS } from './face/index.ts';
import { createCsrf, createViews, errorHandler, renderErrorPage, securityHeaders, staticFiles, wantsJson } from './http/index.ts';
import { timingSafeEqual } from 'node:crypto';
import { ACCOUNT_CLIENT_ID, createAccountRouter } from './account/index.ts';
import { createAdminRouter } from './admin/index.ts';
import { isDatabaseUnavailable } from './db/index.ts';
import { createMetrics, type Metrics } from './metrics/index.ts';
import { createInteractionRouter } from './interaction/router.ts';
import { createAdapterClass, createProvider } from './oidc/index.ts';
import { createServices, deriveKey, type BiometricParts, type ServiceDeps, type Services } from './services.ts';
import { systemClock, type Logger } from './shared/index.ts';

export type { CustodianLink, BiometricParts } from './services.ts';

/**
 * The composition root of the web tier: services (src/services.ts) plus oidc-provider and the
 * HTTP routes. Everything from outside (configuration, database, face engine, custodian) is
 * passed in, so tests build the same app with a test database or a stopped custodian.
 */

export interface AppDeps extends BiometricParts {
  config: Config;
  logger: Logger;
  database: Database;
  /** Frames per capture on the camera pages. */
  captureFrames?: { signIn: number; enroll: number };
  rates?: ServiceDeps['rates'];
  policies?: ServiceDeps['policies'];
  metrics?: Metrics;
  clock?: ServiceDeps['clock'];
}

export interface App {
  provider: Provider;
  metrics: Metrics;
  callback: ReturnType<Provider['callback']>;
  services: Services;
  clients: Services['clients'];
  accounts: Services['accounts'];
  close(): Promise<void>;
}

/** A low-cardinality label for a path: its first segment (never ids, codes or usernames). */
function routeGroup(path: string): string {
  const first = path.split('/')[1] ?? '';
  return ['interaction', 'account', 'admin', 'signup', 'auth', 'token', 'me', 'session', 'jwks', 'static', '.well-known', 'healthz', 'readyz', 'metrics', 'request', 'reg'].includes(first) ? `/${first}` : first === '' ? '/' : 'other';
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const services = createServices({ ...deps, metrics });
  const { db, queries, clients, signingKeys } = services;
  const views = createViews();

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

  // The IdP's own account page signs in like any first-party client, with response_type=none.
  await clients.add({
    clientId: ACCOUNT_CLIENT_ID,
    name: 'Your FaceID-FHE account',
    redirectUris: [new URL('/account/callback', config.issuer).href],
    authMethod: 'none',
    responseTypes: ['none'],
    firstParty: true,
  });

  const secureCookies = config.issuer.startsWith('https://');
  const provider = createProvider({
    issuer: config.issuer,
    adapter: createAdapterClass({ payloads: queries.payloads, clients: queries.clients, sealer: services.sealer, idKey: deriveKey(config.sealingKey, 'oidc-payload-id') }),
    jwks: await signingKeys.privateJwks(),
    cookieKeys: config.cookieKeys,
    accounts: queries.accounts,
    views,
    trustProxy: config.trustProxy,
    proxyHops: config.proxyHops,
    secureCookies,
  });
  // oidc-provider answers its own endpoints' internal errors with 500 server_error; a database
  // that cannot be reached is marked here and turned into 503 below (it is not our bug, and it passes).
  provider.on('server_error', (ctx: { state: Record<string, unknown> }, err: unknown) => {
    if (isDatabaseUnavailable(err)) ctx.state.databaseUnavailable = true;
    else logger.error({ err }, 'oidc-provider server error');
  });
  // Koa reports errors that happen after a response (a client that hung up mid-upload: "Parse
  // Error", ECONNRESET) on the app, and prints them to stderr unless silent. They go to our
  // logger instead: client-side ones at debug level, anything else as an error.
  // (oidc-provider 9's Provider is the Koa application itself.)
  const koaApp = provider as unknown as { silent: boolean; on(event: 'error', listener: (err: { code?: string; status?: number; message?: string }) => void): void };
  koaApp.silent = true;
  koaApp.on('error', (err) => {
    const clientSide = (err.status !== undefined && err.status < 500) || /^(ECONNRESET|EPIPE|ECONNABORTED|HPE_)/.test(err.code ?? '') || err.message === 'Parse Error' || err.message === 'aborted';
    if (clientSide) logger.debug({ errorCode: err.code }, 'client went away');
    else logger.error({ err }, 'error after the response');
  });

  const csrf = createCsrf({ key: deriveKey(Buffer.from(config.cookieKeys[0]!, 'utf8'), 'csrf').toString('base64url'), secureCookies });
  // Uploads stop at the face engine's own per-frame cap: a larger frame would be refused anyway.
  const frameLimits = { maxFiles: 8, maxFileBytes: FACE_LIMITS.frame.maxBytes };
  const captureFrames = deps.captureFrames ?? { signIn: 3, enroll: 5 };
  const interactions = createInteractionRouter({ provider, flow: services.flow, views, csrf, frameLimits, captureFrames, secureCookies, clock: deps.clock ?? systemClock });
  const account = createAccountRouter({ provider, services, views, csrf, issuer: config.issuer, secureCookies, frameLimits, captureFrames });

  const admin = createAdminRouter({ services, views, credentials: config.admin });

  const site = new Router();
  site.get('/metrics', async (ctx) => {
    const given = Buffer.from(ctx.get('authorization'));
    const expected = Buffer.from(`Bearer ${config.metricsToken ?? ''}`);
    // Without a token only local scrapers may read metrics, and only when no proxy stands between
    // (behind one, a local peer address proves nothing).
    const allowed = config.metricsToken
      ? given.length === expected.length && timingSafeEqual(given, expected)
      : !config.trustProxy && ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(ctx.ip);
    if (!allowed) {
      ctx.status = 401;
      ctx.body = { error: 'unauthorized' };
      return;
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  site.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = views.render('home.njk', { sampleRpUrl: config.sampleRp?.url });
  });
  site.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  site.get('/readyz', async (ctx) => {
    const checks = { database: false, custodian: false };
    // Each check gets 2 s: a dependency that hangs is as unready as one that refuses.
    const within = <T,>(work: Promise<T>) => Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    await Promise.all([
      within(db.raw('select 1')).then(() => (checks.database = true), () => undefined),
      within(deps.custodian.health()).then(() => (checks.custodian = true), () => undefined),
    ]);
    const ready = checks.database && checks.custodian;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });

  provider.use(async (ctx, next) => {
    const stop = metrics.httpRequests.startTimer();
    try {
      await next();
    } finally {
      stop({ route: routeGroup(ctx.path), status: String(ctx.status) });
    }
  });
  // Inside the metrics middleware, so that the metrics record the 503 rather than the 500.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.state.databaseUnavailable && ctx.status === 500) {
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        ctx.set('Cache-Control', 'no-store');
        const description = 'The service is temporarily unavailable. Please try again in a moment.';
        if (!wantsJson(ctx) && ctx.response.is('html')) {
          ctx.body = renderErrorPage(views, { status: 503, code: 'temporarily_unavailable', message: description });
        } else {
          // RFC 6749 4.1.2.1 names this error for the authorization endpoint; used for all here.
          ctx.body = { error: 'temporarily_unavailable', error_description: description };
        }
      }
    }
  });
  provider.use(securityHeaders({ hsts: secureCookies }));
  provider.use(errorHandler({ logger, views }));
  provider.use(staticFiles());
  provider.use(site.routes());
  provider.use(interactions.routes());
  provider.use(account.routes());
  provider.use(admin.routes());
  provider.use(async (ctx, next) => {
    await next();
    // oidc-provider answers unknown paths with an empty 404; give browsers a readable page.
    if (ctx.status === 404 && ctx.body === undefined && !wantsJson(ctx)) {
      ctx.status = 404;
      ctx.type = 'html';
      ctx.body = renderErrorPage(views, { status: 404, code: 'not_found', message: 'There is nothing at this address.' });
    }
  });

  const sweeper = setInterval(() => {
    queries.payloads.deleteExpired().catch((err: unknown) => logger.warn({ err }, 'expired OIDC payload sweep failed'));
    services.throttle.sweep().catch((err: unknown) => logger.warn({ err }, 'throttle sweep failed'));
    services.accounts.retryForgets().catch((err: unknown) => logger.warn({ err }, 'custodian forget retry failed'));
    queries.devices.forgetOlderThan(new Date(Date.now() - 90 * 24 * 60 * 60_000)).catch((err: unknown) => logger.warn({ err }, 'known-device sweep failed'));
  }, 10 * 60 * 1000);
  sweeper.unref();

  return {
    provider,
    metrics,
    callback: provider.callback(),
    services,
    clients,
    accounts: services.accounts,
    async close() {
      clearInterval(sweeper);
    },
  };
}
