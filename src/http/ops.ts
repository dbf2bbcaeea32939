import { timingSafeEqual } from 'node:crypto';
import { Router } from '@koa/router';
import type { Registry } from 'prom-client';
import type { Views } from './views.ts';

/**
 * Operations endpoints: liveness (/healthz: the process answers), readiness (/readyz: the
 * database and the custodian answer within 2 s each), Prometheus metrics (/metrics: a bearer
 * token, or loopback only when no proxy stands between), and the home page.
 */
export interface OpsDeps {
  views: Views;
  registry: Registry;
  metricsToken: string | undefined;
  trustProxy: boolean;
  checks: { database(): Promise<unknown>; custodian(): Promise<unknown> };
  sampleRpUrl: string | undefined;
}

const LOOPBACK = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];

export function createOpsRouter(deps: OpsDeps): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const given = Buffer.from(ctx.get('authorization'));
    const expected = Buffer.from(`Bearer ${deps.metricsToken ?? ''}`);
    // Behind a proxy a local peer address proves nothing: then only the token opens.
    const allowed = deps.metricsToken
      ? given.length === expected.length && timingSafeEqual(given, expected)
      : !deps.trustProxy && LOOPBACK.includes(ctx.ip);
    if (!allowed) {
      ctx.status = 401;
      ctx.body = { error: 'unauthorized' };
      return;
    }
    ctx.type = deps.registry.contentType;
    ctx.body = await deps.registry.metrics();
  });
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = deps.views.render('home.njk', { sampleRpUrl: deps.sampleRpUrl });
  });
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const checks = { database: false, custodian: false };
    // A dependency that hangs is as unready as one that refuses.
    const within = <T,>(work: Promise<T>) => Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    await Promise.all([
      within(deps.checks.database()).then(() => (checks.database = true), () => undefined),
      within(deps.checks.custodian()).then(() => (checks.custodian = true), () => undefined),
    ]);
    const ready = checks.database && checks.custodian;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
  return router;
}
