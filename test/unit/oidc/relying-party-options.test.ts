import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pairwiseSubject } from '../../../src/oidc/provider.ts';
import { HttpClient, type Response } from '../../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../../support/idp.ts';
import { fakeParts, type FakeParts } from '../../../support/fakes.ts';
import { REDIRECT_URI, authRequest, exchange, signInOverHttp, signUpOverHttp, type AuthRequest } from '../../../support/signin.ts';

/**
 * The per-client OpenID Connect options relying parties ask for, through the real IdP over HTTP
 * with openid-client as the relying party: back-channel and front-channel logout (with sid),
 * pairwise subjects, PAR required, client-based CORS and ES256 ID tokens. The back-channel RP is
 * a real HTTP endpoint here that verifies what it is sent as an RP must (Back-Channel Logout 1.0,
 * 2.6) and answers 400 to anything else.
 */
type NewClient = Parameters<IdpHandle['app']['services']['clients']['add']>[0];

interface Registered {
  clientId: string;
  clientSecret: string | undefined;
  config: oidc.Configuration;
}

interface Delivery {
  path: string;
  payload?: JWTPayload;
  error?: string;
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('relying-party options: logout channels, pairwise subjects, PAR, CORS, ES256', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let rp: Server;
  let rpPort: number;
  let rpUrl: string;
  const deliveries: Delivery[] = [];
  const failingPaths = new Set<string>();
  /** Which client each back-channel path belongs to, and the algorithm its tokens must use. */
  const backchannelClients = new Map<string, { clientId: string; alg: string }>();
  const username = 'alice';
  const notices = vi.fn();

  beforeAll(async () => {
    // oidc-provider announces every default helper still in use on the console.
    vi.spyOn(console, 'info').mockImplementation(notices);
    vi.spyOn(console, 'warn').mockImplementation(notices);
    parts = await fakeParts();

    // The relying party's back-channel endpoint (on every interface: see the SSRF test).
    rp = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '';
        const reply = (status: number) => {
          res.statusCode = status;
          res.setHeader('cache-control', 'no-store');
          res.end();
        };
        const registered = backchannelClients.get(path);
        const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('logout_token');
        if (req.method !== 'POST' || !registered || !token || req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
          deliveries.push({ path, error: 'not a logout request' });
          return reply(400);
        }
        verifyLogoutToken(token, registered.clientId, registered.alg).then(
          (payload) => {
            deliveries.push({ path, payload });
            reply(failingPaths.has(path) ? 500 : 200);
          },
          (error: Error) => {
            deliveries.push({ path, error: error.message });
            reply(400);
          },
        );
      });
    });
    await new Promise<void>((resolve) => rp.listen(0, resolve));
    rpPort = (rp.address() as AddressInfo).port;
    rpUrl = `http://127.0.0.1:${rpPort}`;

    // Only this origin may be called although it is loopback (OUTBOUND_PRIVATE_ORIGINS).
    idp = await startIdp(parts.parts, { env: { OUTBOUND_PRIVATE_ORIGINS: rpUrl } });
    const response = await signUpOverHttp(idp.url, username, parts.enrollFrames, { name: 'Alice' });
    expect(response.status, response.text).toBe(303);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await new Promise<void>((resolve) => (rp ? rp.close(() => resolve()) : resolve()));
    await idp?.close();
    await parts?.close();
  });

  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  /** Back-Channel Logout 1.0, 2.6, as the RP does it: signature, iss, aud, iat, typ, events, sub or sid, no nonce. */
  async function verifyLogoutToken(token: string, clientId: string, alg: string): Promise<JWTPayload> {
    jwks ??= createRemoteJWKSet(new URL(`${idp.url}/jwks`));
    const { payload } = await jwtVerify(token, jwks, { issuer: idp.url, audience: clientId, algorithms: [alg], typ: 'logout+jwt', maxTokenAge: '2 minutes' });
    if (JSON.stringify(payload.events) !== JSON.stringify({ [BACKCHANNEL_EVENT]: {} })) throw new Error('no back-channel logout event');
    if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (typeof payload.jti !== 'string') throw new Error('no jti');
    return payload;
  }

  const discover = (clientId: string, metadata: Partial<oidc.ClientMetadata>, auth?: oidc.ClientAuth) =>
    oidc.discovery(new URL(idp.url), clientId, metadata, auth, { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] });

  async function register(client: Omit<NewClient, 'redirectUris'> & { redirectUris?: string[] }): Promise<Registered> {
    const { clientId, clientSecret } = await idp.app.services.clients.add({ redirectUris: [REDIRECT_URI], postLogoutRedirectUris: ['https://rp.example/'], ...client });
    const metadata: Partial<oidc.ClientMetadata> = { id_token_signed_response_alg: client.idTokenSignedResponseAlg ?? 'RS256' };
    if (client.backchannelLogoutUri) backchannelClients.set(new URL(client.backchannelLogoutUri).pathname, { clientId, alg: client.idTokenSignedResponseAlg ?? 'RS256' });
    const config = clientSecret ? await discover(clientId, { ...metadata, client_secret: clientSecret }) : await discover(clientId, metadata, oidc.None());
    return { clientId, clientSecret, config };
  }

  async function signIn(client: Registered, http: HttpClient, options: { redirectUri?: string } = {}) {
    const request = await authRequest(client.config, options.redirectUri ? { redirect_uri: options.redirectUri } : {});
    const { callback, last } = await signInOverHttp(http, request, username, parts.sameFrames, options);
    expect(callback.searchParams.get('code'), last.text).toBeTruthy();
    return exchange(client.config, callback, request);
  }

  /** RP-initiated logout through the confirmation page; `everywhere` is "Yes, sign me out". */
  async function logout(http: HttpClient, client: Registered, idToken: string, everywhere: boolean): Promise<Response> {
    const endSession = oidc.buildEndSessionUrl(client.config, { id_token_hint: idToken, post_logout_redirect_uri: 'https://rp.example/', state: 'bye' });
    const page = await http.get(endSession.href, 'text/html');
    expect(page.status, page.text).toBe(200);
    const action = /<form[^>]+action="([^"]+)"/.exec(page.text)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1]!;
    return http.postForm(action, everywhere ? { xsrf, logout: 'yes' } : { xsrf }, 'text/html');
  }

  /** Logout tokens are POSTed before the confirmation answers; a short grace for the RP's own verification. */
  const deliveredTo = async (count: number) => {
    await vi.waitFor(() => expect(deliveries.length).toBeGreaterThanOrEqual(count), { timeout: 5000 });
    return [...deliveries].sort((a, b) => a.path.localeCompare(b.path));
  };

  describe('back-channel logout (Back-Channel Logout 1.0)', () => {
    it('delivers a verified logout token to every RP of the ended session, with the sid of its ID token', async () => {
      const a = await register({ name: 'Back-channel A', backchannelLogoutUri: `${rpUrl}/backchannel/a` });
      const b = await register({ name: 'Back-channel B (no sid)', backchannelLogoutUri: `${rpUrl}/backchannel/b`, backchannelLogoutSessionRequired: false });
      const c = await register({ name: 'No logout URI' });
      const http = new HttpClient(idp.url);
      const tokensA = await signIn(a, http);
      const tokensB = await signIn(b, http);
      await signIn(c, http);
      const sidA = tokensA.claims()!.sid;
      expect(sidA).toMatch(/^[\w-]{16,}$/);
      expect(tokensB.claims()!.sid).toBeUndefined();

      deliveries.length = 0;
      const confirmed = await logout(http, a, tokensA.id_token!, true);
      expect(confirmed.status).toBe(303);
      expect(confirmed.location).toBe('https://rp.example/?state=bye');
      const [toA, toB, ...others] = await deliveredTo(2);
      expect(others).toEqual([]);
      expect(toA).toMatchObject({ path: '/backchannel/a', payload: { sub: tokensA.claims()!.sub, sid: sidA, aud: a.clientId, iss: idp.url } });
      expect(toB).toMatchObject({ path: '/backchannel/b', payload: { sub: tokensB.claims()!.sub, aud: b.clientId } });
      expect(toB!.payload).not.toHaveProperty('sid');

      // The session is over: the next authorization asks for the face again.
      const again = await http.follow(await http.get((await authRequest(c.config)).url.href));
      expect(again.json<{ prompt: string }>().prompt).toBe('login');
    });

    it('"No, stay signed in" ends only the initiating RP: only it is told, the others keep the session', async () => {
      const a = await register({ name: 'Back-channel A2', backchannelLogoutUri: `${rpUrl}/backchannel/a2` });
      const b = await register({ name: 'Back-channel B2', backchannelLogoutUri: `${rpUrl}/backchannel/b2` });
      const http = new HttpClient(idp.url);
      const tokensA = await signIn(a, http);
      await signIn(b, http);
      deliveries.length = 0;
      const confirmed = await logout(http, a, tokensA.id_token!, false);
      expect(confirmed.status).toBe(303);
      const [only, ...others] = await deliveredTo(1);
      expect(others).toEqual([]);
      expect(only).toMatchObject({ path: '/backchannel/a2', payload: { sid: tokensA.claims()!.sid } });
      // B's authorization comes straight back with a code: no login prompt, the session lives.
      const resumed = await http.follow(await http.get((await authRequest(b.config)).url.href));
      expect(resumed.location ?? resumed.text).toMatch(new RegExp(`^${REDIRECT_URI}\\?code=`));
    });

    it('an RP that refuses the token does not keep the user signed in', async () => {
      const a = await register({ name: 'Back-channel failing', backchannelLogoutUri: `${rpUrl}/backchannel/failing` });
      failingPaths.add('/backchannel/failing');
      const http = new HttpClient(idp.url);
      const tokens = await signIn(a, http);
      deliveries.length = 0;
      const confirmed = await logout(http, a, tokens.id_token!, true);
      expect(confirmed.location).toBe('https://rp.example/?state=bye');
      expect((await deliveredTo(1))[0]).toMatchObject({ path: '/backchannel/failing', payload: { sid: tokens.claims()!.sid } });
      const again = await http.follow(await http.get((await authRequest(a.config)).url.href));
      expect(again.json<{ prompt: string }>().prompt).toBe('login');
    });

    it('attack: a logout URI on a loopback origin nobody allowed is never called (SSRF)', async () => {
      // Same server, another origin (localhost instead of 127.0.0.1): only the listed origin passes.
      const allowed = await register({ name: 'Allowed origin', backchannelLogoutUri: `${rpUrl}/backchannel/allowed` });
      const probe = await register({ name: 'Probe', backchannelLogoutUri: `http://localhost:${rpPort}/backchannel/probe` });
      const http = new HttpClient(idp.url);
      const tokens = await signIn(allowed, http);
      await signIn(probe, http);
      // The probe's URI does reach the RP for anyone but the IdP (a GET gets the RP's 400).
      expect((await fetch(`http://localhost:${rpPort}/backchannel/probe`)).status).toBe(400);
      deliveries.length = 0;
      const confirmed = await logout(http, allowed, tokens.id_token!, true);
      expect(confirmed.location).toBe('https://rp.example/?state=bye');
      const received = await deliveredTo(1);
      // Give a refused call the same time to (not) arrive as the allowed one had.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(deliveries.map((delivery) => delivery.path)).toEqual(['/backchannel/allowed']);
      expect(received[0]!.payload).toBeDefined();
    });
  });

  describe('front-channel logout (Front-Channel Logout 1.0)', () => {
    it('renders each RP logout URI in a frame of the sign-out page, with iss and the sid of its ID token, then continues', async () => {
      const f1 = await register({ name: 'Front-channel one', frontchannelLogoutUri: 'https://rp.example/logout/frame?tenant=t1' });
      const f2 = await register({ name: 'Front-channel two', frontchannelLogoutUri: 'https://rp.example/fc2', frontchannelLogoutSessionRequired: false });
      const http = new HttpClient(idp.url);
      const tokens1 = await signIn(f1, http);
      const tokens2 = await signIn(f2, http);
      const sid1 = tokens1.claims()!.sid as string;
      expect(sid1).toMatch(/^[\w-]{16,}$/);
      expect(tokens2.claims()!.sid).toBeUndefined();

      const page = await logout(http, f1, tokens1.id_token!, true);
      expect(page.status, page.text).toBe(200);
      expect(page.location).toBeUndefined();
      const frames = [...page.text.matchAll(/<iframe hidden src="([^"]+)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&'));
      const expected1 = new URL('https://rp.example/logout/frame?tenant=t1');
      expected1.searchParams.set('iss', idp.url);
      expected1.searchParams.set('sid', sid1);
      expect(frames.sort()).toEqual(['https://rp.example/fc2', expected1.href].sort());
      expect(page.text).toContain('href="https://rp.example/?state=bye"');
      expect(page.text).toContain('<script src="/static/frontchannel-logout.js"></script>');
      expect(page.headers.get('content-security-policy')).toMatch(/; frame-src https:\/\/rp\.example$/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      // The session is over all the same.
      const again = await http.follow(await http.get((await authRequest(f1.config)).url.href));
      expect(again.json<{ prompt: string }>().prompt).toBe('login');
    });

    it('without front-channel clients in the session the sign-out is the plain redirect', async () => {
      const plain = await register({ name: 'Plain RP' });
      const http = new HttpClient(idp.url);
      const tokens = await signIn(plain, http);
      const confirmed = await logout(http, plain, tokens.id_token!, true);
      expect(confirmed.status).toBe(303);
      expect(confirmed.location).toBe('https://rp.example/?state=bye');
    });
  });

  describe('pairwise subject identifiers (OIDC Core 1.0, 8.1)', () => {
    it('differ per sector, are stable within one, and are the keyed hash of the derived pairwise key', async () => {
      const accountId = (await idp.app.services.accounts.findByUsername(username))!.id;
      const rpOne = await register({ name: 'Pairwise rp.example one', subjectType: 'pairwise' });
      const rpTwo = await register({ name: 'Pairwise rp.example two', subjectType: 'pairwise' });
      const otherRedirect = 'https://other.example/callback';
      const other = await register({ name: 'Pairwise other.example', subjectType: 'pairwise', redirectUris: [otherRedirect] });
      const publicClient = await register({ name: 'Public subject' });
      const http = new HttpClient(idp.url);

      const one = await signIn(rpOne, http);
      const subOne = one.claims()!.sub;
      const subTwo = (await signIn(rpTwo, http)).claims()!.sub;
      const subOther = (await signIn(other, http, { redirectUri: otherRedirect })).claims()!.sub;
      const subPublic = (await signIn(publicClient, http)).claims()!.sub;

      expect(subPublic).toBe(accountId);
      expect(subOne).toBe(subTwo); // one sector (rp.example), one subject
      expect(subOther).not.toBe(subOne);
      expect([subOne, subOther]).not.toContain(accountId);
      expect(subOne).toBe(pairwiseSubject(idp.app.services.keys.pairwiseSubject, 'rp.example', accountId));
      expect(subOther).toBe(pairwiseSubject(idp.app.services.keys.pairwiseSubject, 'other.example', accountId));
      // Stable: a new sign-in (a new session) gives the same subject; userinfo agrees.
      const later = await signIn(rpOne, new HttpClient(idp.url));
      expect(later.claims()!.sub).toBe(subOne);
      expect((await oidc.fetchUserInfo(rpOne.config, one.access_token, subOne)).sub).toBe(subOne);
    });

    it('a pairwise RP with a back-channel URI gets its own subject in the logout token', async () => {
      const pairwise = await register({ name: 'Pairwise back-channel', subjectType: 'pairwise', backchannelLogoutUri: `${rpUrl}/backchannel/pairwise` });
      const http = new HttpClient(idp.url);
      const tokens = await signIn(pairwise, http);
      deliveries.length = 0;
      await logout(http, pairwise, tokens.id_token!, true);
      expect((await deliveredTo(1))[0]).toMatchObject({ path: '/backchannel/pairwise', payload: { sub: tokens.claims()!.sub, sid: tokens.claims()!.sid } });
    });
  });

  describe('pushed authorization requests required (RFC 9126)', () => {
    it('refuses a plain authorization request and succeeds through PAR; a request_uri is single-use and bound to its client', async () => {
      const par = await register({ name: 'PAR required', requirePushedAuthorizationRequests: true });
      const plain = await new HttpClient(idp.url).get((await authRequest(par.config)).url.href);
      expect(plain.status).toBe(303);
      const refused = new URL(plain.location!);
      expect(refused.origin + refused.pathname).toBe(REDIRECT_URI);
      expect(refused.searchParams.get('error')).toBe('invalid_request');
      expect(refused.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
      expect(refused.searchParams.get('code')).toBeNull();

      const pushed = async (): Promise<AuthRequest> => {
        const codeVerifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        const url = await oidc.buildAuthorizationUrlWithPAR(par.config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid profile',
          code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return { url, codeVerifier, state, nonce };
      };
      const request = await pushed();
      expect(request.url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      expect([...request.url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      const http = new HttpClient(idp.url);
      const { callback } = await signInOverHttp(http, request, username, parts.sameFrames);
      const tokens = await exchange(par.config, callback, request);
      expect(tokens.claims()!.aud).toBe(par.clientId);

      // Replayed: the request_uri was consumed.
      const replay = await new HttpClient(idp.url).get(request.url.href);
      expect(new URL(replay.location!).searchParams.get('error')).toBe('invalid_request_uri');
      // Another client presenting this client's request_uri.
      const other = await register({ name: 'Another client' });
      const stolen = new URL((await pushed()).url);
      stolen.searchParams.set('client_id', other.clientId);
      const crossed = await new HttpClient(idp.url).get(stolen.href);
      const crossedTo = new URL(crossed.location!);
      expect(crossedTo.searchParams.get('error')).toBe('invalid_request_object');
      expect(crossedTo.searchParams.get('code')).toBeNull();
    });
  });

  describe('client-based CORS', () => {
    const call = (path: string, init: RequestInit & { origin: string }) =>
      fetch(new URL(path, idp.url), { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), origin: init.origin } });

    it('answers a public client only from its registered web origins; a confidential client only at userinfo', async () => {
      const spa = await register({ name: 'Single-page app', authMethod: 'none', redirectUris: ['https://spa.example/callback'] });
      const revoke = (origin: string) =>
        call('/token/revocation', { method: 'POST', origin, body: new URLSearchParams({ client_id: spa.clientId, token: 'not-a-token' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

      const fromSpa = await revoke('https://spa.example');
      expect(fromSpa.status).toBe(200);
      expect(fromSpa.headers.get('access-control-allow-origin')).toBe('https://spa.example');
      for (const origin of ['https://evil.example', 'https://spa.example:8443', 'http://spa.example', 'null']) {
        const refused = await revoke(origin);
        expect(refused.status, origin).toBe(400);
        expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull();
        expect(((await refused.json()) as { error: string }).error).toBe('invalid_request');
      }

      // A confidential client's token-side endpoints are for its server: no CORS even from its own origin.
      const confidential = await idp.app.services.clients.add({ name: 'Confidential', redirectUris: [REDIRECT_URI] });
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(confidential.clientId)}:${encodeURIComponent(confidential.clientSecret!)}`).toString('base64')}`;
      const fromRp = await call('/token/revocation', { method: 'POST', origin: 'https://rp.example', body: new URLSearchParams({ token: 'not-a-token' }), headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' } });
      expect(fromRp.headers.get('access-control-allow-origin')).toBeNull();
      expect(fromRp.status).toBe(400);
    });

    it('userinfo: the access token reads only from an origin of its client', async () => {
      const client = await register({ name: 'Userinfo from the browser' });
      const tokens = await signIn(client, new HttpClient(idp.url));
      const userinfo = (origin: string) => call('/me', { method: 'GET', origin, headers: { authorization: `Bearer ${tokens.access_token}` } });
      const own = await userinfo('https://rp.example');
      expect(own.status).toBe(200);
      expect(own.headers.get('access-control-allow-origin')).toBe('https://rp.example');
      const foreign = await userinfo('https://evil.example');
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      expect(foreign.status).toBe(400);
      // Discovery and the JWKS stay readable from anywhere (CORS for public metadata).
      const discovery = await call('/.well-known/openid-configuration', { method: 'GET', origin: 'https://evil.example' });
      expect(discovery.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    });
  });

  describe('ES256 ID tokens', () => {
    it('an ES256 client gets an ID token signed by the active ES256 key that openid-client verifies against the JWKS', async () => {
      const es256 = await register({ name: 'ES256 RP', idTokenSignedResponseAlg: 'ES256' });
      const tokens = await signIn(es256, new HttpClient(idp.url)); // enableNonRepudiationChecks: the JWS is verified
      const header = decodeProtectedHeader(tokens.id_token!);
      const active = (await idp.app.services.signingKeys.list()).find((key) => key.alg === 'ES256' && key.state === 'active')!;
      expect(header).toMatchObject({ alg: 'ES256', kid: active.kid });
      const jwksKeys = ((await (await fetch(`${idp.url}/jwks`)).json()) as { keys: Array<{ kid: string; alg: string; crv?: string }> }).keys;
      expect(jwksKeys.find((key) => key.kid === active.kid)).toMatchObject({ alg: 'ES256', crv: 'P-256' });
      // An RP that expects RS256 from this client refuses its ES256 token: the alg is registered, not the token's choice.
      const expectingRs256 = { ...es256, config: await discover(es256.clientId, { client_secret: es256.clientSecret!, id_token_signed_response_alg: 'RS256' }) };
      const refused = (await signIn(expectingRs256, new HttpClient(idp.url)).catch((error: unknown) => error)) as Error & { cause?: Error };
      expect(refused.cause?.message).toBe('unexpected JWT "alg" header parameter');
      const rs256 = await register({ name: 'RS256 RP (default)' });
      expect(decodeProtectedHeader((await signIn(rs256, new HttpClient(idp.url))).id_token!).alg).toBe('RS256');
    });
  });

  describe('registration refuses what the specs forbid, with a readable reason', () => {
    const add = (client: Partial<NewClient>) => idp.app.services.clients.add({ name: 'Bad', redirectUris: [REDIRECT_URI], ...client });
    it.each([
      ['an ID-token alg without a key', { idTokenSignedResponseAlg: 'HS256' }, /RS256, ES256/],
      ['an unsigned ID token', { idTokenSignedResponseAlg: 'none' }, /RS256, ES256/],
      ['a pairwise client over two hosts without a sector', { subjectType: 'pairwise' as const, redirectUris: [REDIRECT_URI, 'https://other.example/cb'] }, /sector identifier URI/],
      ['a sector identifier over http', { subjectType: 'pairwise' as const, sectorIdentifierUri: 'http://rp.example/sector.json' }, /https/],
      ['a sector identifier for a public-subject client', { sectorIdentifierUri: 'https://rp.example/sector.json' }, /pairwise/],
      ['a front-channel URI on a foreign origin', { frontchannelLogoutUri: 'https://evil.example/logout' }, /scheme, host and port of a redirect URI/],
      ['a front-channel URI with a fragment', { frontchannelLogoutUri: 'https://rp.example/logout#x' }, /fragment/],
      ['a back-channel URI that is no URL', { backchannelLogoutUri: 'not a url' }, /not a URL/],
      ['a back-channel URI of another scheme', { backchannelLogoutUri: 'ftp://rp.example/logout' }, /http\(s\)/],
    ])('%s', async (_what, client, message) => {
      await expect(add(client)).rejects.toMatchObject({ code: 'client_invalid', status: 400, message: expect.stringMatching(message) });
    });
  });

  it('no default oidc-provider helper is left: no notice about clientBasedCORS or pairwiseIdentifier', () => {
    const printed = notices.mock.calls.map((args) => String(args[0]));
    expect(printed.filter((line) => /clientBasedCORS|pairwiseIdentifier/.test(line))).toEqual([]);
  });
});
