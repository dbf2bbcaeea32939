import type { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Provider } from 'oidc-provider';
import { databaseUnavailableAs503, errorHandler, notFoundPage, requestMetrics, securityHeaders, staticFiles, type Views } from './http/index.ts';
import type { Metrics } from './metrics/index.ts';
import type { Logger } from './shared/index.ts';

/**
 * The web app as one middleware table, outermost first (as oidc-provider's own endpoint chains
 * are written). oidc-provider's Provider is the Koa application: our middlewares run around its
 * endpoints, and our routers answer the paths it does not own.
 */
export interface AppTable {
  logger: Logger;
  views: Views;
  metrics: Metrics;
  secureCookies: boolean;
  isDatabaseUnavailable(error: unknown): boolean;
  /** Turns oidc-provider's post-logout redirect into the front-channel logout page when needed. */
  frontchannelLogout: Middleware;
  routers: Router[];
}

export function mountApp(provider: Provider, table: AppTable): void {
  const { logger, views } = table;
  // oidc-provider's own internal errors: a database outage is marked (and becomes a 503 below),
  // anything else is our bug and is logged.
  provider.on('server_error', (ctx: { state: Record<string, unknown> }, err: unknown) => {
    if (table.isDatabaseUnavailable(err)) ctx.state.databaseUnavailable = true;
    else logger.error({ err }, 'oidc-provider server error');
  });
  // Errors after a response (a client that hung up mid-upload: "Parse Error", ECONNRESET) are
  // reported on the Koa app, which prints them unless silent: they go to our logger instead.
  const koa = provider as unknown as { silent: boolean; on(event: 'error', listener: (err: { code?: string; status?: number; message?: string }) => void): void };
  koa.silent = true;
  koa.on('error', (err) => {
    const clientSide = (err.status !== undefined && err.status < 500) || /^(ECONNRESET|EPIPE|ECONNABORTED|HPE_)/.test(err.code ?? '') || err.message === 'Parse Error' || err.message === 'aborted';
    if (clientSide) logger.debug({ errorCode: err.code }, 'client went away');
    else logger.error({ err }, 'error after the response');
  });

  const chain = [
    requestMetrics(table.metrics.httpRequests), // outermost: records what the client finally got
    databaseUnavailableAs503(views), //          oidc-provider's 500 for a database outage -> 503
    securityHeaders({ hsts: table.secureCookies }), // CSP etc., before the handlers (see security.ts)
    errorHandler({ logger, views }), //          our errors -> page or JSON with a stable code
    table.frontchannelLogout, //                 logout confirmed -> RPs' logout frames (inside the CSP)
    staticFiles(), //                            /static/*
    ...table.routers.map((router) => router.routes()), // ops, interaction, account, admin
    notFoundPage(views), //                      an empty 404 -> a readable page
  ];
  for (const middleware of chain) provider.use(middleware as Parameters<Provider['use']>[0]);
}
