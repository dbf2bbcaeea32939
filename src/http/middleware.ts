import type { Context, Next } from 'koa';
import type { Histogram } from 'prom-client';
import { renderErrorPage } from './errors.ts';
import { wantsJson } from './negotiate.ts';
import type { Views } from './views.ts';

/** The small middlewares of the app's table (src/app.ts), each with one job. */

/** A low-cardinality label for a path: its first segment (never ids, codes or usernames). */
export function routeGroup(path: string): string {
  const first = path.split('/')[1] ?? '';
  return ['interaction', 'account', 'admin', 'signup', 'auth', 'token', 'me', 'session', 'jwks', 'static', '.well-known', 'healthz', 'readyz', 'metrics', 'request', 'reg'].includes(first) ? `/${first}` : first === '' ? '/' : 'other';
}

/** Times every request by route group and status. */
export function requestMetrics(histogram: Histogram<'route' | 'status'>) {
  return async function timeRequest(ctx: Context, next: Next): Promise<void> {
    const stop = histogram.startTimer();
    try {
      await next();
    } finally {
      stop({ route: routeGroup(ctx.path), status: String(ctx.status) });
    }
  };
}

/**
 * oidc-provider answers its own endpoints' internal errors with 500 server_error; one caused by a
 * database that cannot be reached (marked in ctx.state by the provider's server_error listener)
 * becomes a 503 that says "try again", as ours do. RFC 6749 4.1.2.1 names temporarily_unavailable
 * for the authorization endpoint; used for all here.
 */
export function databaseUnavailableAs503(views: Views) {
  return async function rewrite503(ctx: Context, next: Next): Promise<void> {
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
          ctx.body = { error: 'temporarily_unavailable', error_description: description };
        }
      }
    }
  };
}

/** oidc-provider answers unknown paths with an empty 404; browsers get a readable page. */
export function notFoundPage(views: Views) {
  return async function notFound(ctx: Context, next: Next): Promise<void> {
    await next();
    if (ctx.status === 404 && ctx.body === undefined && !wantsJson(ctx)) {
      ctx.status = 404;
      ctx.type = 'html';
      ctx.body = renderErrorPage(views, { status: 404, code: 'not_found', message: 'There is nothing at this address.' });
    }
  };
}
