import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../accounts/index.ts';
import type { Audit } from '../audit/index.ts';
import type { AccountQueries, AuditFilter, AuditQueries } from '../db/index.ts';
import { noStore, parseCheckedForm, respond, type Csrf, type Views } from '../http/index.ts';
import type { SigningKeys } from '../keys/index.ts';
import { ACCOUNT_CLIENT_ID, type ClientRegistry } from '../oidc/index.ts';
import { AppError, type Clock } from '../shared/index.ts';
import type { FailurePolicy, Throttle } from '../throttle/index.ts';
import { dashboardCharts, SERIES } from './dashboard.ts';

/**
 * The operators' console under /admin, behind its own credentials (ADMIN_USER / ADMIN_PASSWORD,
 * HTTP Basic over TLS, RFC 7617), separate from any user account. Without configured credentials
 * the routes do not exist. Failed logins are rate-limited per IP and audited.
 *
 *   GET  /admin                     dashboard: sign-ins, denials, lockouts, PAD refusals over time
 *   GET  /admin/users               search (username or email prefix), paging
 *   GET  /admin/users/:id           one account and its recent events
 *   POST /admin/users/:id/lock      `reason`            -> sign-in refused (account_locked), sessions ended
 *   POST /admin/users/:id/unlock
 *   POST /admin/users/:id/reset-face                    -> template removed (re-enrol: cli user:reset-face)
 *   POST /admin/users/:id/delete    `confirm` = username
 *   GET  /admin/clients             relying parties
 *   POST /admin/clients             register            -> its id (and secret, shown once)
 *   POST /admin/clients/:id/rotate-secret               -> the new secret, shown once
 *   POST /admin/clients/:id/delete
 *   GET  /admin/keys                signing keys
 *   POST /admin/keys/rotate
 *   GET  /admin/audit               filters: type, outcome, username | account, from, to; paging
 *
 * GET pages only read. Every POST is a form with the CSRF token (the browser resends Basic
 * credentials on its own, so they prove nothing about which page sent the form) and is audited
 * with the operator as the actor. Pages answer JSON to clients that ask for it.
 */
interface AdminRouterDeps {
  audit: Pick<Audit, 'record'>;
  auditEvents: Pick<AuditQueries, 'list' | 'count' | 'distinct' | 'histogram' | 'lastAt'>;
  accounts: Pick<AccountService, 'findById' | 'findByUsername' | 'template' | 'lock' | 'unlock' | 'removeTemplate' | 'delete'>;
  accountList: Pick<AccountQueries, 'search' | 'count'>;
  clients: Pick<ClientRegistry, 'add' | 'list' | 'rotateSecret' | 'remove'>;
  signingKeys: Pick<SigningKeys, 'list' | 'rotate'>;
  throttle: Pick<Throttle, 'reserve'>;
  csrf: Csrf;
  views: Views;
  clock: Clock;
  credentials: { user: string; password: string } | undefined;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Operator logins: 5 failures per address, then a minute's lock that doubles. */
const ADMIN_POLICY: FailurePolicy = { maxFailures: 5, baseLockMs: 60_000, maxLockMs: 60 * 60_000 };

const USERS_PAGE = 25;
const AUDIT_PAGE = 50;
const DAY_MS = 24 * 60 * 60_000;

const invalid = (message: string) => new AppError('admin_invalid', message, { status: 400 });
const notFound = (what: string) => new AppError('admin_not_found', `No such ${what}.`, { status: 404 });

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A query parameter: absent, or one string within `max` characters (a repeated or longer one is a 400). */
function queryText(ctx: Context, name: string, max = 100): string | undefined {
  const value = ctx.query[name];
  if (value === undefined || value === '') return undefined;
  // Control characters are never typed into a filter (and PostgreSQL refuses NUL in text).
  if (typeof value !== 'string' || value.length > max || CONTROL.test(value)) throw invalid(`The ${name} filter is not valid.`);
  return value;
}

/** Event types, outcomes and ids: short tokens; anything else was not typed into our forms. */
const TOKEN = /^[\w:.-]{1,100}$/;
function token(ctx: Context, name: string): string | undefined {
  const value = queryText(ctx, name);
  if (value !== undefined && !TOKEN.test(value)) throw invalid(`The ${name} filter is not valid.`);
  return value;
}

/** A YYYY-MM-DD day (UTC), as date inputs send it. */
function day(ctx: Context, name: 'from' | 'to'): Date | undefined {
  const value = queryText(ctx, name, 10);
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : undefined;
  if (!date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) throw invalid(`The “${name === "from" ? "From" : "To"}” date must be a day (YYYY-MM-DD).`);
  return date;
}

/** Account and client ids in paths: what our ids look like (UUIDs, the seeded names). */
const ID = /^[\w.:-]{1,128}$/;
function pathId(ctx: Context, what: string): string {
  const id = String(ctx.params.id ?? '');
  if (!ID.test(id)) throw notFound(what);
  return id;
}

/** A form field: a string of at most `max` characters, trimmed ('' when absent). */
function field(fields: Record<string, string>, name: string, max: number): string {
  const value = (fields[name] ?? '').trim();
  if (value.length > max) throw invalid(`The ${name.replace(/_/g, ' ')} is too long (at most ${max} characters).`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) throw invalid(`The ${name.replace(/_/g, ' ')} contains control characters.`);
  return value;
}

const lines = (text: string) => text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);

export function createAdminRouter(deps: AdminRouterDeps): Router {
  const router = new Router({ prefix: '/admin' });
  const { credentials, audit } = deps;
  if (!credentials) return router;
  const expectedUser = digest(credentials.user);
  const expectedPassword = digest(credentials.password);
  const operator = credentials.user;

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
    // Console pages are never framed or indexed; the CSP already says frame-ancestors 'none'.
    ctx.set('X-Robots-Tag', 'noindex');
    // An error page's way back: the console page the request came from (the user's page, the list).
    const user = /^\/admin\/users\/([^/]+)/.exec(ctx.path);
    ctx.state.retryUrl = user ? `/admin/users/${user[1]}` : (/^\/admin(\/(users|clients|keys|audit))?/.exec(ctx.path)?.[0] ?? '/admin');
    await next();
  });

  /** A console page: the nav, the operator's name and the CSRF token for its forms. */
  const page = (ctx: Context, template: string, nav: string, context: Record<string, unknown>, json: Record<string, unknown>) => {
    const csrf = deps.csrf.token(ctx);
    respond(ctx, deps.views, `admin/${template}`, { ...context, nav, operator, csrf, done: queryDone(ctx) }, { ...json, csrf });
  };

  /** The notice after an action (?done=...): one of ours, never text from the URL. */
  const DONE: Record<string, string> = {
    locked: 'The account is locked: its sessions ended and sign-in is refused.',
    unlocked: 'The account is unlocked: the user can sign in again.',
    'face-reset': 'The face template was removed. The user must be re-enrolled by an operator (npm run cli -- user:reset-face).',
    deleted: 'The account was deleted: template, grants and sessions erased.',
    'client-deleted': 'The client was deleted.',
    rotated: 'Signing keys rotated: the next keys are active. Restart the IdP processes to sign with them.',
  };
  const queryDone = (ctx: Context) => (typeof ctx.query.done === 'string' ? DONE[ctx.query.done] : undefined);

  const seeOther = (ctx: Context, location: string) => {
    ctx.status = 303;
    ctx.redirect(location);
  };

  /** Who did it, for the audit trail. */
  const byOperator = (ctx: Context) => ({ ip: ctx.ip, actor: 'operator', operator });
  const operatorDetail = { actor: 'operator', operator, via: 'console' };

  // ---- dashboard --------------------------------------------------------------------------
  router.get('/', async (ctx) => {
    const now = deps.clock.now();
    const [ranges, accounts, clients, keys, recent] = await Promise.all([
      dashboardCharts(deps.auditEvents, now),
      deps.accountList.count(),
      deps.clients.list(),
      deps.signingKeys.list(),
      deps.auditEvents.list({ limit: 10 }),
    ]);
    const totals = Object.fromEntries(ranges.map((range) => [range.name, Object.fromEntries(range.charts.map((chart) => [chart.series, chart.total]))]));
    page(ctx, 'dashboard.njk', 'dashboard', {
      ranges,
      accounts,
      clients: clients.length,
      activeKeys: keys.filter((key) => key.state === 'active').length,
      recent,
      generatedAt: new Date(now),
    }, { totals, accounts, clients: clients.length });
  });

  // ---- users ------------------------------------------------------------------------------
  router.get('/users', async (ctx) => {
    const q = queryText(ctx, 'q');
    const after = queryText(ctx, 'after', 64);
    const rows = await deps.accountList.search({ prefix: q?.normalize('NFKC').trim(), after, limit: USERS_PAGE + 1 });
    const pageRows = rows.slice(0, USERS_PAGE);
    const lastSignIns = await deps.auditEvents.lastAt(pageRows.map((row) => row.id), 'signin', 'success');
    const users = pageRows.map((row) => ({ id: row.id, username: row.username, email: row.email, name: row.name, createdAt: row.created_at, lockedAt: row.locked_at, lastSignInAt: lastSignIns.get(row.id) ?? null }));
    const nextAfter = rows.length > USERS_PAGE ? users[users.length - 1]!.username : undefined;
    const nextUrl = nextAfter ? `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), after: nextAfter })}` : undefined;
    page(ctx, 'users.njk', 'users', { users, q, after, nextUrl }, { users, next: nextAfter });
  });

  async function loadAccount(ctx: Context) {
    const account = await deps.accounts.findById(pathId(ctx, 'user'));
    if (!account) throw notFound('user');
    return account;
  }

  router.get('/users/:id', async (ctx) => {
    const account = await loadAccount(ctx);
    const [template, events, lastSignIn] = await Promise.all([
      deps.accounts.template(account.id), deps.auditEvents.list({ accountId: account.id, limit: 20 }), deps.auditEvents.lastAt([account.id], 'signin', 'success'),
    ]);
    const user = {
      id: account.id, username: account.username, email: account.email, name: account.name, createdAt: account.created_at,
      lockedAt: account.locked_at, lockedReason: account.locked_reason, faceEnrolledAt: template?.createdAt, lastSignInAt: lastSignIn.get(account.id) ?? null,
    };
    page(ctx, 'user.njk', 'users', { user, events }, { user, events });
  });

  router.post('/users/:id/lock', async (ctx) => {
    const fields = await parseCheckedForm(ctx, deps.csrf);
    const account = await loadAccount(ctx);
    const reason = field(fields, 'reason', 200);
    if (account.locked_at) throw new AppError('admin_conflict', 'This account is already locked.', { status: 409 });
    await deps.accounts.lock(account.id, reason, byOperator(ctx));
    seeOther(ctx, `/admin/users/${encodeURIComponent(account.id)}?done=locked`);
  });

  router.post('/users/:id/unlock', async (ctx) => {
    await parseCheckedForm(ctx, deps.csrf);
    const account = await loadAccount(ctx);
    if (!account.locked_at) throw new AppError('admin_conflict', 'This account is not locked.', { status: 409 });
    await deps.accounts.unlock(account.id, byOperator(ctx));
    seeOther(ctx, `/admin/users/${encodeURIComponent(account.id)}?done=unlocked`);
  });

  router.post('/users/:id/reset-face', async (ctx) => {
    await parseCheckedForm(ctx, deps.csrf);
    const account = await loadAccount(ctx);
    if (!(await deps.accounts.removeTemplate(account.id, byOperator(ctx)))) throw new AppError('admin_conflict', 'This account has no face template.', { status: 409 });
    seeOther(ctx, `/admin/users/${encodeURIComponent(account.id)}?done=face-reset`);
  });

  router.post('/users/:id/delete', async (ctx) => {
    const fields = await parseCheckedForm(ctx, deps.csrf);
    const account = await loadAccount(ctx);
    // Typing the username is the confirmation: a stray click on the wrong row deletes nothing.
    if (field(fields, 'confirm', 64).toLowerCase() !== account.username) throw new AppError('admin_confirm_mismatch', 'Type the account\'s username to confirm the deletion.', { status: 422 });
    await deps.accounts.delete(account.id, byOperator(ctx));
    seeOther(ctx, '/admin/users?done=deleted');
  });

  // ---- clients ----------------------------------------------------------------------------
  router.get('/clients', async (ctx) => {
    const clients = await deps.clients.list();
    page(ctx, 'clients.njk', 'clients', { clients, accountClientId: ACCOUNT_CLIENT_ID }, { clients });
  });

  router.post('/clients', async (ctx) => {
    const fields = await parseCheckedForm(ctx, deps.csrf);
    const name = field(fields, 'name', 100);
    if (!name) throw invalid('A client needs a name.');
    const redirectUris = lines(field(fields, 'redirect_uris', 4000));
    const postLogoutRedirectUris = lines(field(fields, 'post_logout_uris', 4000));
    if (redirectUris.length > 10 || postLogoutRedirectUris.length > 10) throw invalid('At most 10 URIs of each kind.');
    const kind = fields.type ?? 'confidential';
    if (kind !== 'confidential' && kind !== 'public') throw invalid('The client type must be confidential or public.');
    // The registry validates the URIs (client_invalid, 400) exactly as for `cli client:add`.
    const result = await deps.clients.add({ name, redirectUris, postLogoutRedirectUris, authMethod: kind === 'public' ? 'none' : 'client_secret_basic', firstParty: fields.first_party === 'on' });
    await audit.record({ type: 'client_added', outcome: 'success', clientId: result.clientId, ip: ctx.ip, detail: operatorDetail });
    ctx.status = 201;
    page(ctx, 'client-secret.njk', 'clients', { clientId: result.clientId, clientSecret: result.clientSecret, name, created: true }, { clientId: result.clientId, clientSecret: result.clientSecret });
  });

  router.post('/clients/:id/rotate-secret', async (ctx) => {
    await parseCheckedForm(ctx, deps.csrf);
    const clientId = pathId(ctx, 'client');
    const secret = await deps.clients.rotateSecret(clientId);
    if (secret === undefined) throw notFound('client');
    await audit.record({ type: 'client_secret_rotated', outcome: 'success', clientId, ip: ctx.ip, detail: operatorDetail });
    page(ctx, 'client-secret.njk', 'clients', { clientId, clientSecret: secret, created: false }, { clientId, clientSecret: secret });
  });

  router.post('/clients/:id/delete', async (ctx) => {
    await parseCheckedForm(ctx, deps.csrf);
    const clientId = pathId(ctx, 'client');
    // The account page's own client: without it no user could reach their account page.
    if (clientId === ACCOUNT_CLIENT_ID) throw new AppError('admin_conflict', 'This is the IdP\'s own account-page client; it cannot be deleted.', { status: 409 });
    if (!(await deps.clients.remove(clientId))) throw notFound('client');
    await audit.record({ type: 'client_deleted', outcome: 'success', clientId, ip: ctx.ip, detail: operatorDetail });
    seeOther(ctx, '/admin/clients?done=client-deleted');
  });

  // ---- signing keys -----------------------------------------------------------------------
  router.get('/keys', async (ctx) => {
    const keys = await deps.signingKeys.list();
    page(ctx, 'keys.njk', 'keys', { keys }, { keys });
  });

  router.post('/keys/rotate', async (ctx) => {
    await parseCheckedForm(ctx, deps.csrf);
    const result = await deps.signingKeys.rotate();
    await audit.record({ type: 'keys_rotated', outcome: 'success', ip: ctx.ip, detail: { ...operatorDetail, activated: result.activated, retired: result.retired, created: result.created, deleted: result.deleted } });
    seeOther(ctx, '/admin/keys?done=rotated');
  });

  // ---- audit log --------------------------------------------------------------------------
  router.get('/audit', async (ctx) => {
    const before = queryText(ctx, 'before', 18);
    const after = queryText(ctx, 'after', 18);
    for (const id of [before, after]) if (id !== undefined && !/^\d{1,18}$/.test(id)) throw invalid('before and after must be event ids.');
    const from = day(ctx, 'from');
    const to = day(ctx, 'to');
    if (from && to && from > to) throw invalid('The from date must not be after the to date.');
    const username = queryText(ctx, 'username', 64);
    let accountId = token(ctx, 'account');
    let unknownUser = false;
    if (username !== undefined) {
      // The username wins over an account id (the form sends one or the other).
      const account = await deps.accounts.findByUsername(username);
      if (account) accountId = account.id;
      else unknownUser = true;
    }
    const filter: AuditFilter = {
      type: token(ctx, 'type'), outcome: token(ctx, 'outcome'), accountId, since: from, until: to && new Date(to.getTime() + DAY_MS),
    };
    const [events, total, types, outcomes] = unknownUser
      ? [[], 0, await deps.auditEvents.distinct('type'), await deps.auditEvents.distinct('outcome')]
      : await Promise.all([
        deps.auditEvents.list({ ...filter, before, after, limit: AUDIT_PAGE + 1 }),
        deps.auditEvents.count(filter),
        deps.auditEvents.distinct('type'),
        deps.auditEvents.distinct('outcome'),
      ]);
    // One row more than a page says whether there is a further page in the direction read.
    const more = events.length > AUDIT_PAGE;
    const shown = after !== undefined && before === undefined ? events.slice(-AUDIT_PAGE) : events.slice(0, AUDIT_PAGE);
    const query = {
      ...(filter.type ? { type: filter.type } : {}), ...(filter.outcome ? { outcome: filter.outcome } : {}),
      ...(username ? { username } : {}), ...(!username && accountId ? { account: accountId } : {}),
      ...(from ? { from: from.toISOString().slice(0, 10) } : {}), ...(to ? { to: to.toISOString().slice(0, 10) } : {}),
    };
    const link = (extra: Record<string, string>) => `/admin/audit?${new URLSearchParams({ ...query, ...extra })}`;
    const paged = before !== undefined || after !== undefined;
    const olderId = (after === undefined || before !== undefined ? more : true) && shown.length > 0 ? shown[shown.length - 1]!.id : undefined;
    const newerId = paged && shown.length > 0 && (after === undefined || before !== undefined || more) ? shown[0]!.id : undefined;
    const knownTypes = [...new Set([...types, ...SERIES.flatMap((series) => series.types)])].sort();
    page(ctx, 'audit.njk', 'audit', {
      events: shown,
      total,
      filter: { ...query, account: accountId },
      username,
      unknownUser,
      types: knownTypes,
      outcomes,
      olderUrl: olderId ? link({ before: olderId }) : undefined,
      newerUrl: newerId ? link({ after: newerId }) : undefined,
      newestUrl: paged ? link({}) : undefined,
    }, { events: shown, total, next: olderId, previous: newerId });
  });

  return router;
}
