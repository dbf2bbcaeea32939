import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oidc from 'openid-client';

/**
 * The sample relying party: "Sign in with FaceID-FHE" with the authorization code flow, PKCE
 * (S256), state and nonce (openid-client 6), a page with the verified ID token claims, a
 * protected page that requires face + TOTP (step-up with acr_values), "Sign in with a passkey"
 * (acr_values passkey-face: the passkey names the account, the face verifies it), and
 * RP-initiated logout. Sessions live in memory behind a random, httpOnly cookie.
 */
export const ACR_FACE_OTP = 'urn:faceid-fhe:acr:face-otp';
export const ACR_PASSKEY_FACE = 'urn:faceid-fhe:acr:passkey-face';

export interface RelyingPartyOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** This app's own base URL, e.g. http://localhost:3001 (redirect URI = base + /callback). */
  baseUrl: string;
}

interface Pending {
  codeVerifier: string;
  state: string;
  nonce: string;
  returnTo: string;
  /** acr the returned ID token must carry (step-up), checked after the signature. */
  requiredAcr?: string;
}

interface Session {
  expires: number;
  pending?: Pending;
  idToken?: string;
  claims?: Record<string, unknown>;
  userinfo?: Record<string, unknown>;
  error?: string;
}

const COOKIE = 'rp.sid';

const escape = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Sample app</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.signin{display:inline-flex;gap:.5rem;align-items:center;background:#2557d6;color:#fff;padding:.75rem 1.25rem;border-radius:8px;text-decoration:none;font-weight:600}
.signin.secondary{background:#fff;color:#2557d6;border:2px solid #2557d6}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.3rem .6rem;text-align:left}code{word-break:break-all}.error{color:#b3261e;font-weight:600}`;

export async function createRelyingParty(options: RelyingPartyOptions) {
  const issuerUrl = new URL(options.issuer);
  const insecure = issuerUrl.protocol === 'http:';
  let configuration: Promise<oidc.Configuration> | undefined;
  // Discovery is lazy so the app can start before the IdP; it is retried until it succeeds. The
  // promise is cached so that concurrent first requests share one discovery, and dropped when it
  // fails so the next request tries again.
  const config = () => {
    configuration ??= oidc.discovery(issuerUrl, options.clientId, options.clientSecret, undefined, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined).catch((error: unknown) => {
      configuration = undefined;
      throw error;
    });
    return configuration;
  };
  // Sessions live in memory for an hour, at most MAX_SESSIONS of them (oldest dropped first), and
  // are created only when a sign-in starts: plain page views cost nothing.
  const sessions = new Map<string, Session>();
  const MAX_SESSIONS = 10_000;
  const SESSION_MS = 60 * 60 * 1000;
  const redirectUri = new URL('/callback', options.baseUrl).href;

  function sessionOf(req: IncomingMessage, res: ServerResponse, create: true): Session;
  function sessionOf(req: IncomingMessage, res: ServerResponse, create?: false): Session | undefined;
  function sessionOf(req: IncomingMessage, res: ServerResponse, create = false): Session | undefined {
    const cookie = /(?:^|;\s*)rp\.sid=([\w-]{20,})/.exec(req.headers.cookie ?? '')?.[1];
    const found = cookie ? sessions.get(cookie) : undefined;
    if (found && found.expires > Date.now()) return found;
    if (cookie) sessions.delete(cookie);
    if (!create) return undefined;
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    const id = randomBytes(24).toString('base64url');
    const session: Session = { expires: Date.now() + SESSION_MS };
    sessions.set(id, session);
    res.setHeader('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
    return session;
  }

  const send = (res: ServerResponse, status: number, html: string) => {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'self'; script-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    });
    res.end(html);
  };
  const redirect = (res: ServerResponse, location: string) => {
    res.writeHead(303, { Location: location, 'Cache-Control': 'no-store' });
    res.end();
  };

  async function startSignIn(session: Session, res: ServerResponse, extra: Record<string, string> = {}, returnTo = '/', requiredAcr?: string) {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending: Pending = { codeVerifier, state: oidc.randomState(), nonce: oidc.randomNonce(), returnTo, requiredAcr };
    session.pending = pending;
    const url = oidc.buildAuthorizationUrl(await config(), {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...extra,
    });
    redirect(res, url.href);
  }

  function claimsTable(claims: Record<string, unknown>) {
    const rows = Object.entries(claims).map(([key, value]) => {
      const shown = key === 'auth_time' || key === 'iat' || key === 'exp' ? `${value} (${new Date(Number(value) * 1000).toISOString()})` : JSON.stringify(value);
      return `<tr><th>${escape(key)}</th><td><code data-claim="${escape(key)}">${escape(shown)}</code></td></tr>`;
    });
    return `<table>${rows.join('')}</table>`;
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', options.baseUrl);
    try {
      if (url.pathname === '/style.css') {
        res.writeHead(200, { 'Content-Type': 'text/css' });
        res.end(STYLE);
        return;
      }
      if (req.method !== 'GET') {
        send(res, 405, page('Method not allowed', '<p>Use the links on the page.</p>'));
        return;
      }
      switch (url.pathname) {
        case '/': {
          const session = sessionOf(req, res);
          const error = session?.error ? `<p class="error" id="rp-error">${escape(session.error)}</p>` : '';
          if (session) session.error = undefined;
          if (session?.claims) {
            const amr = Array.isArray(session.claims.amr) ? session.claims.amr.join(', ') : 'none';
            send(res, 200, page('You are signed in', `${error}<p id="how">Signed in at level <code data-summary="acr">${escape(String(session.claims.acr))}</code> with the methods <code data-summary="amr">${escape(amr)}</code> (RFC 8176).</p>
              <p>The ID token was verified (signature, issuer, audience, nonce, PKCE). Its claims:</p>
              <div id="claims">${claimsTable(session.claims)}</div>
              ${session.userinfo ? `<h2>UserInfo</h2>${claimsTable(session.userinfo)}` : ''}
              <p><a href="/protected" id="protected">Open the protected page (needs face + authenticator code)</a></p>
              <p><a href="/logout" id="logout">Sign out</a></p>`));
          } else {
            send(res, 200, page('Sample app', `${error}<p>This application has no passwords. Sign in with your face:</p>
              <p><a class="signin" id="signin" href="/login"><span aria-hidden="true">◉</span> Sign in with FaceID-FHE</a></p>
              <p><a class="signin secondary" id="signin-passkey" href="/login/passkey"><span aria-hidden="true">⚿</span> Sign in with a passkey and your face</a></p>`));
          }
          return;
        }
        case '/login':
          await startSignIn(sessionOf(req, res, true), res);
          return;
        case '/login/passkey':
          // Asks for the passkey + face level by acr_values and insists on it in the ID token: an
          // account without a passkey gets unmet_authentication_requirements, not a weaker sign-in.
          await startSignIn(sessionOf(req, res, true), res, { acr_values: ACR_PASSKEY_FACE }, '/', ACR_PASSKEY_FACE);
          return;
        case '/protected': {
          const session = sessionOf(req, res, true);
          // Step-up: this page needs face + TOTP. A weaker session is sent back to the IdP with
          // acr_values naming only that context; the IdP asks for a fresh face and a code.
          if (session.claims?.acr !== ACR_FACE_OTP) {
            await startSignIn(session, res, { acr_values: ACR_FACE_OTP }, '/protected', ACR_FACE_OTP);
            return;
          }
          send(res, 200, page('Protected page', `<p id="protected-ok">You stepped up: this page needs face and an authenticator code, and your ID token says so.</p>
            <div id="claims">${claimsTable(session.claims)}</div><p><a href="/">Home</a> · <a href="/logout" id="logout">Sign out</a></p>`));
          return;
        }
        case '/callback': {
          const session = sessionOf(req, res);
          const pending = session?.pending;
          if (!session || !pending) {
            send(res, 400, page('Unexpected response', '<p class="error" id="rp-error">This sign-in response was not expected (no sign-in in progress). Please start again.</p><p><a href="/">Home</a></p>'));
            return;
          }
          session.pending = undefined;
          if (url.searchParams.has('error')) {
            session.error = `Sign-in failed: ${url.searchParams.get('error')}${url.searchParams.get('error_description') ? ` — ${url.searchParams.get('error_description')}` : ''}`;
            redirect(res, '/');
            return;
          }
          const tokens = await oidc.authorizationCodeGrant(await config(), url, {
            pkceCodeVerifier: pending.codeVerifier,
            expectedState: pending.state,
            expectedNonce: pending.nonce,
            idTokenExpected: true,
          });
          const claims = tokens.claims()!;
          if (pending.requiredAcr && claims.acr !== pending.requiredAcr) {
            session.error = `The identity provider did not perform the required authentication (${pending.requiredAcr}).`;
            redirect(res, '/');
            return;
          }
          session.idToken = tokens.id_token;
          session.claims = { ...claims };
          session.userinfo = { ...(await oidc.fetchUserInfo(await config(), tokens.access_token, claims.sub)) };
          redirect(res, pending.returnTo);
          return;
        }
        case '/logout': {
          const session = sessionOf(req, res);
          const idToken = session?.idToken;
          if (session) {
            session.claims = undefined;
            session.userinfo = undefined;
            session.idToken = undefined;
          }
          if (!idToken) {
            redirect(res, '/');
            return;
          }
          redirect(res, oidc.buildEndSessionUrl(await config(), { id_token_hint: idToken, post_logout_redirect_uri: new URL('/', options.baseUrl).href }).href);
          return;
        }
        default:
          send(res, 404, page('Not found', '<p><a href="/">Home</a></p>'));
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      send(res, 502, page('Sign-in failed', `<p class="error" id="rp-error">${escape(message)}</p><p><a href="/">Back</a></p>`));
    }
  };
}
