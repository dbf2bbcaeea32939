import { Router } from '@koa/router';
import type { Provider } from 'oidc-provider';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import { createCsrf, createViews, errorHandler, securityHeaders, staticFiles, wantsJson } from './http/index.ts';
import { ACCOUNT_CLIENT_ID, createAccountRouter } from './account/index.ts';
import { createInteractionRouter } from './interaction/router.ts';
import { createAdapterClass, createProvider } from './oidc/index.ts';
import { createServices, deriveKey, type BiometricParts, type Services } from './services.ts';
import type { Logger } from './shared/index.ts';

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
  frameLimits?: { maxFiles: number; maxFileBytes: number };
}

export interface App {
  provider: Provider;
  callback: ReturnType<Provider['callback']>;
  services: Services;
  clients: Services['clients'];
  accounts: Services['accounts'];
  close(): Promise<void>;
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const services = createServices(deps);
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
    adapter: createAdapterClass({ payloads: queries.payloads, clients: queries.clients, sealer: services.sealer }),
    jwks: await signingKeys.privateJwks(),
    cookieKeys: config.cookieKeys,
    accounts: queries.accounts,
    views,
    trustProxy: config.trustProxy,
    secureCookies,
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => logger.error({ err }, 'oidc-provider server error'));

  const csrf = createCsrf({ key: deriveKey(Buffer.from(config.cookieKeys[0]!, 'utf8'), 'csrf').toString('base64url'), secureCookies });
  const frameLimits = deps.frameLimits ?? { maxFiles: 8, maxFileBytes: 4 * 1024 * 1024 };
  const interactions = createInteractionRouter({
    provider,
    flow: services.flow,
    views,
    csrf,
    frameLimits,
    captureFrames: deps.captureFrames ?? { signIn: 3, enroll: 5 },
  });
  const account = createAccountRouter({ provider, services, views, csrf, issuer: config.issuer, secureCookies, frameLimits });

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
  provider.use(account.routes());
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
    services,
    clients,
    accounts: services.accounts,
    async close() {
      clearInterval(sweeper);
    },
  };
}
