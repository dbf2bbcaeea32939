import { randomBytes } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { Provider } from 'oidc-provider';
import type { AccountService } from '../accounts/index.ts';
import type { Audit, AuditType } from '../audit/index.ts';
import type { AccountRow, ConsentQueries } from '../db/index.ts';
import { frameUploadLimits, noStore, parseCheckedForm, parseCheckedJson, parseCheckedMultipart, respond, type Csrf, type MultipartLimits, type Views } from '../http/index.ts';
import { challengeResponse, framesToMatch, type Liveness } from '../liveness/index.ts';
import type { InteractionFlow } from '../interaction/index.ts';
import type { Totp } from '../mfa/index.ts';
import type { Passkeys } from '../passkeys/index.ts';
import { levelsFor, type Factor } from '../policy/index.ts';
import { ACCOUNT_CLIENT_ID } from '../oidc/index.ts';
import { AppError } from '../shared/index.ts';
import { ACTIVITY_TYPES, describeActivity } from './activity.ts';

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
 *   POST /account/totp/cancel        drop a pending (unconfirmed) authenticator
 *   POST /account/totp/remove        remove it (fresh sign-in)
 *   POST /account/recovery-codes     new recovery codes (fresh sign-in), shown once
 *   POST /account/passkeys/options   WebAuthn creation options (JSON; fresh sign-in with the face)
 *   POST /account/passkeys           JSON {csrf, name, response}: register -> {location, recoveryCodes?}
 *   POST /account/passkeys/:id/remove remove a passkey (fresh sign-in)
 *   POST /account/apps/:clientId/revoke forget a remembered consent and end that client's grants and tokens
 *   POST /account/delete             erase the account (fresh sign-in, username typed again)
 *
 * "Fresh" means the session's last authentication is at most FRESH_MS old; older sessions are
 * sent through a new sign-in (prompt=login) first, as NIST SP 800-63B 4.2 asks before changing
 * authenticators.
 */
const FRESH_MS = 5 * 60 * 1000;
const STATE_COOKIE = 'fid.account';

interface AccountRouterDeps {
  provider: Provider;
  accounts: AccountService;
  totp: Totp;
  audit: Audit;
  passkeys: Pick<Passkeys, 'list' | 'has' | 'registrationOptions' | 'register' | 'remove'>;
  /** Face re-enrollment (its limits and the custodian registration live there), the account's factors. */
  flow: Pick<InteractionFlow, 'reenroll' | 'enrolledFactors'>;
  passkeyOnly: boolean;
  consents: Pick<ConsentQueries, 'listFor' | 'revoke'>;
  views: Views;
  csrf: Csrf;
  issuer: string;
  secureCookies: boolean;
  frameLimits: Pick<MultipartLimits, 'maxFiles' | 'maxFileBytes'>;
  /** How many frames the camera page captures (the re-enrollment uses the sign-up's count). */
  captureFrames: { enroll: number };
  /** Presentation-attack detection (LIVENESS=on): a new face is enrolled from a checked burst. */
  liveness?: Liveness;
}

interface SignedIn {
  /** The account row, read once per request: the account page shows it. */
  account: AccountRow;
  accountId: string;
  username: string;
  authTime: number;
  acr: string | undefined;
  amr: string[] | undefined;
}

const safeReturn = (value: unknown): string => (typeof value === 'string' && /^\/account(\/[\w-]*)?$/.test(value) ? value : '/account');

export function createAccountRouter(deps: AccountRouterDeps): Router {
  const { provider, accounts, totp, audit, passkeys, views, csrf } = deps;
  const router = new Router({ prefix: '/account' });
  router.use(noStore);

  // The re-enrollment form's fields: csrf, and with PAD the burst's challenge and capture times.
  const frameUpload = frameUploadLimits(deps.frameLimits, 3);

  const page = (ctx: Context, template: string, context: Record<string, unknown>, json?: Record<string, unknown>) =>
    respond(ctx, views, template, context, json);

  async function signedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await provider.Session.get(ctx as never);
    if (!session.accountId) return undefined;
    const account = await accounts.findById(session.accountId);
    // An account an operator has locked has no session here either (the lock also ended them).
    if (!account || account.locked_at) return undefined;
    return { account, accountId: account.id, username: account.username, authTime: (session.authTime() ?? 0) * 1000, acr: session.acr, amr: session.amr };
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

  /**
   * The form POSTs that change authenticators: a fresh session first (a stale or missing one is a
   * 401 before the body is read), then the form and its CSRF token.
   */
  async function freshForm(ctx: Context): Promise<{ user: SignedIn; fields: Record<string, string> }> {
    // Never undefined for a POST: requireSession throws instead of redirecting.
    const user = (await requireSession(ctx, { fresh: true }))!;
    const fields = await parseCheckedForm(ctx, csrf);
    return { user, fields };
  }

  const recordSuccess = (type: AuditType, user: SignedIn, ctx: Context) =>
    audit.record({ type, outcome: 'success', accountId: user.accountId, ip: ctx.ip });

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
    const { account } = user;
    const [template, secondFactor, events, keys, factors, recoveryLeft] = await Promise.all([
      accounts.template(user.accountId),
      totp.status(user.accountId),
      audit.list({ accountId: user.accountId, limit: 40 }),
      passkeys.list(user.accountId),
      deps.flow.enrolledFactors(user.accountId),
      totp.recoveryCodesLeft(user.accountId),
    ]);
    const allowed = await deps.consents.listFor(user.accountId);
    // What the policy table says this account reaches (the same table the sign-in follows).
    const levels = levelsFor(factors as Set<Factor>, deps.passkeyOnly).map((level) => ({ acr: level.acr, description: level.description }));
    const profile = { username: account.username, email: account.email, name: account.name, createdAt: account.created_at };
    const face = template ? { enrolledAt: template.createdAt, heParams: template.template.heParams, modelVersion: template.template.modelVersion, bytes: template.template.ciphertext.byteLength } : undefined;
    const names = new Map<string, string>();
    const appName = async (clientId: string | null): Promise<string> => {
      if (!clientId) return '–';
      if (clientId === ACCOUNT_CLIENT_ID) return 'This account page';
      if (!names.has(clientId)) names.set(clientId, (await provider.Client.find(clientId))?.clientName ?? 'An application no longer registered');
      return names.get(clientId)!;
    };
    const signIns = await Promise.all(events.filter((event) => ACTIVITY_TYPES.includes(event.type)).slice(0, 10).map(async (event) => ({
      ...event,
      what: describeActivity(event.type, event.outcome),
      app: await appName(event.client_id),
    })));
    const apps = await Promise.all(allowed.map(async (consent) => ({ clientId: consent.client_id, name: await appName(consent.client_id), scopes: consent.scopes.filter((scope) => scope !== 'openid'), grantedAt: consent.granted_at })));
    page(ctx, 'account.njk', {
      csrf: csrf.token(ctx),
      apps,
      profile,
      face,
      totp: secondFactor,
      passkeys: keys,
      levels,
      recoveryLeft,
      signIns,
      session: { authTime: new Date(user.authTime), acr: user.acr, amr: user.amr },
      done: typeof ctx.query.done === 'string' ? ctx.query.done : undefined,
    }, { profile, face, totp: secondFactor, passkeys: keys, levels, recoveryCodesLeft: recoveryLeft, apps, csrf: csrf.token(ctx), signIns: signIns.map((event) => ({ at: event.at, type: event.type, outcome: event.outcome, clientId: event.client_id, what: event.what, app: event.app })) });
  });

  router.get('/face', async (ctx) => {
    const user = await requireSession(ctx, { fresh: true, returnTo: '/account/face' });
    if (!user) return;
    page(ctx, 'account-face.njk', { csrf: csrf.token(ctx), frames: deps.captureFrames.enroll, username: user.username, challengeUrl: deps.liveness ? '/account/face/challenge' : undefined });
  });

  // PAD: a challenge for this account's re-enrollment (needs the same fresh session as the upload).
  router.post('/face/challenge', async (ctx) => {
    const { user } = await freshForm(ctx);
    if (!deps.liveness) throw new AppError('liveness_disabled', 'This server does not use camera challenges.', { status: 404 });
    const challenge = await deps.liveness.challenge(`account:${user.accountId}`);
    ctx.body = challengeResponse(challenge);
  });

  router.post('/face', async (ctx) => {
    ctx.state.retryUrl = '/account/face';
    const user = (await requireSession(ctx, { fresh: true, returnTo: '/account/face' }))!;
    await deps.flow.reenroll({
      accountId: user.accountId,
      actor: 'user',
      ip: ctx.ip,
      frames: async () => {
        const body = await parseCheckedMultipart(ctx, csrf, frameUpload);
        return framesToMatch(deps.liveness, `account:${user.accountId}`, body.fields, body.files.map((file) => file.data));
      },
    });
    ctx.status = 303;
    ctx.redirect('/account?done=face');
  });

  // A POST (not a GET): it replaces any pending secret, which a cross-site link must not do.
  router.post('/totp/begin', async (ctx) => {
    const { user } = await freshForm(ctx);
    const enrollment = await totp.begin(user.accountId, user.username);
    const token = csrf.token(ctx);
    page(ctx, 'account-totp.njk', { csrf: token, qrSvg: enrollment.qrSvg, secret: enrollment.secret, uri: enrollment.uri }, { secret: enrollment.secret, uri: enrollment.uri, csrf: token });
  });

  router.post('/totp', async (ctx) => {
    ctx.state.retryUrl = '/account';
    const { user, fields } = await freshForm(ctx);
    let codes: string[];
    try {
      codes = await totp.confirm(user.accountId, (fields.code ?? '').slice(0, 16));
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'totp_invalid') throw error;
      // The same pending secret again, with the refusal: the app the user set up stays valid.
      const enrollment = await totp.begin(user.accountId, user.username);
      const token = csrf.token(ctx);
      ctx.status = 422;
      page(ctx, 'account-totp.njk', { csrf: token, qrSvg: enrollment.qrSvg, secret: enrollment.secret, uri: enrollment.uri, error: { code: error.code, message: error.message } }, { error: error.code, message: error.message, csrf: token });
      return;
    }
    await recordSuccess('totp_enabled', user, ctx);
    page(ctx, 'account-recovery-codes.njk', { codes, enabled: true }, { recoveryCodes: codes });
  });

  router.post('/totp/cancel', async (ctx) => {
    const { user } = await freshForm(ctx);
    await totp.cancel(user.accountId);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/totp/remove', async (ctx) => {
    const { user } = await freshForm(ctx);
    await totp.remove(user.accountId);
    await recordSuccess('totp_disabled', user, ctx);
    ctx.status = 303;
    ctx.redirect('/account?done=totp-removed');
  });

  // Revoking reduces access: the session suffices (no fresh sign-in), with the form's CSRF token.
  router.post('/apps/:clientId/revoke', async (ctx) => {
    const user = (await requireSession(ctx, { fresh: false }))!;
    await parseCheckedForm(ctx, csrf);
    const clientId = String(ctx.params.clientId).slice(0, 200);
    if (!(await deps.consents.revoke(user.accountId, clientId))) throw new AppError('consent_unknown', 'That application has no access to revoke.', { status: 404 });
    await audit.record({ type: 'consent_revoked', outcome: 'success', accountId: user.accountId, clientId, ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account?done=app-revoked');
  });

  router.post('/recovery-codes', async (ctx) => {
    const { user } = await freshForm(ctx);
    const codes = await totp.regenerateRecoveryCodes(user.accountId, await passkeys.has(user.accountId));
    await recordSuccess('recovery_codes_regenerated', user, ctx);
    page(ctx, 'account-recovery-codes.njk', { codes, enabled: false }, { recoveryCodes: codes });
  });

  /**
   * Passkey registration needs a sign-in of the last five minutes that included the face
   * (NIST SP 800-63B-4 4.2: binding a new authenticator needs a fresh authentication).
   */
  async function freshWithFace(ctx: Context): Promise<SignedIn> {
    const user = (await requireSession(ctx, { fresh: true }))!;
    if (!(user.amr ?? []).includes('face')) {
      ctx.state.retryUrl = loginUrl('/account', true);
      throw new AppError('reauthentication_required', 'To add a passkey, confirm it is you with your face first.', { status: 401 });
    }
    return user;
  }

  router.post('/passkeys/options', async (ctx) => {
    const user = await freshWithFace(ctx);
    await parseCheckedJson(ctx, csrf);
    ctx.body = await passkeys.registrationOptions({ binding: `account:${user.accountId}`, accountId: user.accountId, username: user.username, displayName: user.account.name || user.username });
  });

  router.post('/passkeys', async (ctx) => {
    const user = await freshWithFace(ctx);
    const body = await parseCheckedJson(ctx, csrf);
    const added = await passkeys.register({ binding: `account:${user.accountId}`, accountId: user.accountId, response: body.response, name: typeof body.name === 'string' ? body.name : '' }).catch(async (error: unknown) => {
      // A refused registration is audited too (every ceremony is; the code says why).
      await audit.record({ type: 'passkey_registered', outcome: 'denied', accountId: user.accountId, ip: ctx.ip, detail: { code: error instanceof AppError ? error.code : 'internal_error' } });
      throw error;
    });
    await audit.record({ type: 'passkey_registered', outcome: 'success', accountId: user.accountId, ip: ctx.ip, detail: { synced: added.synced } });
    // A first second factor brings recovery codes (they stand in for a lost passkey), shown once.
    const recoveryCodes = await totp.issueRecoveryCodesIfNone(user.accountId);
    ctx.body = { location: '/account?done=passkey', passkey: { id: added.id, name: added.name }, ...(recoveryCodes ? { recoveryCodes } : {}) };
  });

  router.post('/passkeys/:id/remove', async (ctx) => {
    const { user } = await freshForm(ctx);
    if (!(await passkeys.remove(user.accountId, String(ctx.params.id)))) throw new AppError('passkey_unknown', 'No such passkey on your account.', { status: 404 });
    await audit.record({ type: 'passkey_removed', outcome: 'success', accountId: user.accountId, ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account?done=passkey-removed');
  });

  router.post('/delete', async (ctx) => {
    ctx.state.retryUrl = '/account';
    const { user, fields } = await freshForm(ctx);
    if ((fields.confirm ?? '').trim().toLowerCase() !== user.username) {
      throw new AppError('confirmation_mismatch', 'Type your username exactly to confirm the deletion.', { status: 422 });
    }
    await accounts.delete(user.accountId, { ip: ctx.ip, actor: 'user' });
    page(ctx, 'account-deleted.njk', {}, { status: 'deleted' });
  });

  return router;
}

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    passkey_unknown: true;
  }
}
