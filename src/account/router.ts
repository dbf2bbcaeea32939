import { randomBytes } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { Provider } from 'oidc-provider';
import { parseForm, parseMultipart } from '../http/body.ts';
import type { Csrf } from '../http/csrf.ts';
import { wantsJson } from '../http/negotiate.ts';
import { noStore } from '../http/security.ts';
import type { Views } from '../http/views.ts';
import type { Services } from '../services.ts';
import { AppError } from '../shared/index.ts';

/**
 * Account self-service, signed in with the IdP's own session (the one relying parties share):
 *
 *   GET  /account                    profile, face enrollment, second factor, recent sign-ins
 *   GET  /account/login              sign in to the account page (response_type=none: a session, no tokens)
 *   GET  /account/callback           back from that sign-in
 *   GET  /account/face               camera page for a re-enrollment (fresh sign-in)
 *   POST /account/face               re-enroll the face (fresh sign-in); the old template is replaced
 *   POST /account/totp/begin         set up an authenticator app (fresh sign-in): QR code + key
 *   POST /account/totp               confirm it with a first code -> recovery codes, shown once
 *   POST /account/totp/remove        remove it (fresh sign-in)
 *   POST /account/recovery-codes     new recovery codes (fresh sign-in), shown once
 *   POST /account/delete             erase the account (fresh sign-in, username typed again)
 *
 * "Fresh" means the session's last authentication is at most FRESH_MS old; older sessions are
 * sent through a new sign-in (prompt=login) first, as NIST SP 800-63B 4.2 asks before changing
 * authenticators.
 */
export const ACCOUNT_CLIENT_ID = 'account-console';
const FRESH_MS = 5 * 60 * 1000;
const STATE_COOKIE = 'fid.account';

export interface AccountRouterDeps {
  provider: Provider;
  services: Services;
  views: Views;
  csrf: Csrf;
  issuer: string;
  secureCookies: boolean;
  frameLimits: { maxFiles: number; maxFileBytes: number };
}

interface SignedIn {
  accountId: string;
  username: string;
  authTime: number;
  acr: string | undefined;
  amr: string[] | undefined;
}

const safeReturn = (value: unknown): string => (typeof value === 'string' && /^\/account(\/[\w-]*)?$/.test(value) ? value : '/account');

export function createAccountRouter(deps: AccountRouterDeps): Router {
  const { provider, services, views, csrf } = deps;
  const router = new Router({ prefix: '/account' });
  router.use(noStore);

  const page = (ctx: Context, template: string, context: Record<string, unknown>, json?: Record<string, unknown>) => {
    if (wantsJson(ctx) && json) {
      ctx.body = json;
      return;
    }
    ctx.type = 'html';
    ctx.body = views.render(template, context);
  };

  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await provider.Session.get(ctx as never);
    if (!session.accountId) return undefined;
    const account = await services.accounts.findById(session.accountId);
    if (!account) return undefined;
    return { accountId: account.id, username: account.username, authTime: (session.authTime() ?? 0) * 1000, acr: session.acr, amr: session.amr };
  }

  function loginUrl(returnTo: string, fresh: boolean): string {
    return `/account/login?return=${encodeURIComponent(returnTo)}${fresh ? '&fresh=1' : ''}`;
  }

  /** The signed-in account, or a redirect to sign in (GET) / a 401 with a way back (POST). */
  async function requireSession(ctx: Context, options: { fresh: boolean; returnTo?: string }): Promise<SignedIn | undefined> {
    const user = await signedIn(ctx);
    const returnTo = options.returnTo ?? '/account';
    const stale = user && options.fresh && Date.now() - user.authTime > FRESH_MS;
    if (user && !stale) return user;
    if (ctx.method === 'GET') {
      ctx.status = 303;
      ctx.redirect(loginUrl(returnTo, Boolean(stale)));
      return undefined;
    }
    ctx.state.retryUrl = loginUrl(returnTo, true);
    throw new AppError(user ? 'reauthentication_required' : 'login_required', user ? 'For this change, confirm it is you: sign in again with your face.' : 'Please sign in first.', { status: 401 });
  }

  router.get('/login', async (ctx) => {
    const state = randomBytes(24).toString('base64url');
    const returnTo = safeReturn(ctx.query.return);
    ctx.cookies.set(STATE_COOKIE, `${state}.${returnTo}`, { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/account', overwrite: true, maxAge: 15 * 60 * 1000 });
    const url = new URL('/auth', deps.issuer);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'none',
      scope: 'openid',
      redirect_uri: new URL('/account/callback', deps.issuer).href,
      state,
      ...(ctx.query.fresh ? { prompt: 'login' } : {}),
    }).toString();
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const [state, returnTo] = (ctx.cookies.get(STATE_COOKIE) ?? '').split('.');
    ctx.cookies.set(STATE_COOKIE, '', { path: '/account', maxAge: 0 });
    // State first, and no text from the query on our pages: a crafted link cannot put words in our mouth.
    if (!state || ctx.query.state !== state) {
      throw new AppError('state_mismatch', 'This sign-in response does not belong to this browser. Please start again.', { status: 400 });
    }
    if (ctx.query.error) {
      ctx.state.retryUrl = '/account/login';
      throw new AppError('login_cancelled', 'The sign-in to your account did not complete.', { status: 400 });
    }
    ctx.status = 303;
    ctx.redirect(safeReturn(returnTo));
  });

  router.get('/', async (ctx) => {
    const user = await requireSession(ctx, { fresh: false });
    if (!user) return;
    const [account, template, totp, events] = await Promise.all([
      services.accounts.findById(user.accountId),
      services.accounts.template(user.accountId),
      services.totp.status(user.accountId),
      services.queries.audit.list({ accountId: user.accountId, limit: 20 }),
    ]);
    const profile = { username: account!.username, email: account!.email, name: account!.name, createdAt: account!.created_at };
    const face = template ? { enrolledAt: template.created_at, heParams: template.he_params, modelVersion: template.model_version, bytes: template.ciphertext.byteLength } : undefined;
    const signIns = events.filter((event) => ['signin', 'totp_denied', 'face_refused'].includes(event.type)).slice(0, 10);
    page(ctx, 'account.njk', {
      csrf: csrf.token(ctx),
      profile,
      face,
      totp,
      signIns,
      session: { authTime: new Date(user.authTime), acr: user.acr, amr: user.amr },
      done: typeof ctx.query.done === 'string' ? ctx.query.done : undefined,
    }, { profile, face, totp, signIns: signIns.map((event) => ({ at: event.at, type: event.type, outcome: event.outcome, clientId: event.client_id })) });
  });

  router.get('/face', async (ctx) => {
    const user = await requireSession(ctx, { fresh: true, returnTo: '/account/face' });
    if (!user) return;
    page(ctx, 'account-face.njk', { csrf: csrf.token(ctx), frames: 5, username: user.username });
  });

  router.post('/face', async (ctx) => {
    ctx.state.retryUrl = '/account/face';
    const user = await requireSession(ctx, { fresh: true, returnTo: '/account/face' });
    const body = await parseMultipart(ctx, { fileField: 'frame', maxFiles: deps.frameLimits.maxFiles, maxFileBytes: deps.frameLimits.maxFileBytes, maxFields: 2, maxFieldBytes: 1024, allowedTypes: ['image/jpeg', 'image/png'] });
    csrf.verify(ctx, body.fields.csrf);
    const template = await services.biometric.enroll(body.files.map((file) => file.data));
    await services.accounts.replaceTemplate(user!.accountId, template);
    await services.audit.record({ type: 'face_reenrolled', outcome: 'success', accountId: user!.accountId, ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account?done=face');
  });

  // A POST (not a GET): it replaces any pending secret, which a cross-site link must not do.
  router.post('/totp/begin', async (ctx) => {
    const user = await requireSession(ctx, { fresh: true });
    const fields = await parseForm(ctx);
    csrf.verify(ctx, fields.csrf);
    const enrollment = await services.totp.begin(user!.accountId, user!.username);
    page(ctx, 'account-totp.njk', { csrf: csrf.token(ctx), qrSvg: enrollment.qrSvg, secret: enrollment.secret, uri: enrollment.uri }, { secret: enrollment.secret, uri: enrollment.uri, csrf: csrf.token(ctx) });
  });

  router.post('/totp', async (ctx) => {
    ctx.state.retryUrl = '/account';
    const user = await requireSession(ctx, { fresh: true });
    const fields = await parseForm(ctx);
    csrf.verify(ctx, fields.csrf);
    const codes = await services.totp.confirm(user!.accountId, (fields.code ?? '').slice(0, 16));
    await services.audit.record({ type: 'totp_enabled', outcome: 'success', accountId: user!.accountId, ip: ctx.ip });
    page(ctx, 'account-recovery-codes.njk', { codes, enabled: true }, { recoveryCodes: codes });
  });

  router.post('/totp/remove', async (ctx) => {
    const user = await requireSession(ctx, { fresh: true });
    const fields = await parseForm(ctx);
    csrf.verify(ctx, fields.csrf);
    await services.totp.remove(user!.accountId);
    await services.audit.record({ type: 'totp_disabled', outcome: 'success', accountId: user!.accountId, ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account?done=totp-removed');
  });

  router.post('/recovery-codes', async (ctx) => {
    const user = await requireSession(ctx, { fresh: true });
    const fields = await parseForm(ctx);
    csrf.verify(ctx, fields.csrf);
    const codes = await services.totp.regenerateRecoveryCodes(user!.accountId);
    await services.audit.record({ type: 'recovery_codes_regenerated', outcome: 'success', accountId: user!.accountId, ip: ctx.ip });
    page(ctx, 'account-recovery-codes.njk', { codes, enabled: false }, { recoveryCodes: codes });
  });

  router.post('/delete', async (ctx) => {
    ctx.state.retryUrl = '/account';
    const user = await requireSession(ctx, { fresh: true });
    const fields = await parseForm(ctx);
    csrf.verify(ctx, fields.csrf);
    if ((fields.confirm ?? '').trim().toLowerCase() !== user!.username) {
      throw new AppError('confirmation_mismatch', 'Type your username exactly to confirm the deletion.', { status: 422 });
    }
    await services.accounts.delete(user!.accountId, { ip: ctx.ip, actor: 'user' });
    page(ctx, 'account-deleted.njk', {}, { status: 'deleted' });
  });

  return router;
}
