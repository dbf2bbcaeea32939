import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { noStore, respond, type Views } from '../http/index.ts';
import type { Audit } from '../audit/index.ts';
import { AppError } from '../shared/index.ts';
import type { FailurePolicy, Throttle } from '../throttle/index.ts';

/**
 * The operator's audit view: GET /admin/audit (filters: type, outcome, account, before), behind
 * its own credentials (ADMIN_USER / ADMIN_PASSWORD, HTTP Basic over TLS, RFC 7617), separate from
 * any user account. Without configured credentials the routes do not exist. Failed logins are
 * rate-limited per IP and audited like any other security event.
 */
interface AdminRouterDeps {
  audit: Audit;
  throttle: Pick<Throttle, 'reserve'>;
  views: Views;
  credentials: { user: string; password: string } | undefined;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Operator logins: 5 failures per address, then a minute's lock that doubles. */
const ADMIN_POLICY: FailurePolicy = { maxFailures: 5, baseLockMs: 60_000, maxLockMs: 60 * 60_000 };

export function createAdminRouter(deps: AdminRouterDeps): Router {
  const router = new Router({ prefix: '/admin' });
  const { credentials, audit } = deps;
  if (!credentials) return router;
  const expectedUser = digest(credentials.user);
  const expectedPassword = digest(credentials.password);

  const challenge = (ctx: Context) => {
    ctx.set('WWW-Authenticate', 'Basic realm="FaceID-FHE operators", charset="UTF-8"');
    return new AppError('admin_unauthorized', 'Operator credentials are required.', { status: 401 });
  };

  async function authenticate(ctx: Context): Promise<void> {
    const header = ctx.get('authorization');
    if (!header) throw challenge(ctx);
    // The attempt is reserved before the password is compared: while an address is locked out
    // even the right password is refused, so guessing gains nothing from the limit's answers.
    const reservation = await deps.throttle.reserve([{ key: `admin:${ctx.ip}`, policy: ADMIN_POLICY }]);
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const ok =
      colon > 0 &&
      // Compare digests so the comparison is constant-time whatever the lengths.
      timingSafeEqual(digest(decoded.slice(0, colon)), expectedUser) &&
      timingSafeEqual(digest(decoded.slice(colon + 1)), expectedPassword);
    if (ok) {
      await reservation.succeed();
      return;
    }
    const lock = await reservation.fail();
    await audit.record({ type: 'admin_login', outcome: 'denied', ip: ctx.ip });
    if (lock.lockedNow) await audit.record({ type: 'lockout', outcome: 'admin', ip: ctx.ip, detail: { seconds: Math.ceil(lock.lockedMs / 1000) } });
    throw challenge(ctx);
  }

  router.use(noStore);
  router.use(async (ctx, next) => {
    await authenticate(ctx);
    await next();
  });

  router.get('/', (ctx) => {
    ctx.status = 303;
    ctx.redirect('/admin/audit');
  });

  router.get('/audit', async (ctx) => {
    const text = (name: string) => {
      const value = ctx.query[name];
      return typeof value === 'string' && value.length > 0 && value.length <= 100 ? value : undefined;
    };
    const before = text('before');
    if (before !== undefined && !/^\d{1,18}$/.test(before)) throw new AppError('bad_request', 'before must be an event id.', { status: 400 });
    const filter = { type: text('type'), outcome: text('outcome'), accountId: text('account'), before, limit: 100 };
    const events = await audit.list(filter);
    const next = events.length === 100 ? events[events.length - 1]!.id : undefined;
    const query = (extra: Record<string, string>) => new URLSearchParams(Object.entries({ ...filter, ...extra }).filter(([k, v]) => v !== undefined && k !== 'limit') as Array<[string, string]>).toString();
    respond(ctx, deps.views, 'admin-audit.njk', { events, filter, nextUrl: next ? `/admin/audit?${query({ before: String(next) })}` : undefined }, { events, next });
  });

  return router;
}
