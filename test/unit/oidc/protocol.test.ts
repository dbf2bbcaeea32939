import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpClient } from '../../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../../support/idp.ts';
import { fakeParts, type FakeParts } from '../../../support/fakes.ts';
import { REDIRECT_URI, authRequest, exchange, registerClient, signInOverHttp, signUpOverHttp } from '../../../support/signin.ts';

/**
 * OpenID Connect protocol behaviour against the real server on port 0, driven by openid-client
 * (the relying party's side) and the documented HTTP contract (the user's side).
 */
describe('OpenID Connect protocol', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  let clientId: string;
  const username = 'alice';

  beforeAll(async () => {
    parts = await fakeParts();
    idp = await startIdp(parts.parts);
    const registered = await registerClient(idp, { name: 'Protocol test RP', postLogoutRedirectUris: ['https://rp.example/'] });
    clientId = registered.clientId;
    config = registered.config;
    // Enroll over the contract: POST /signup (multipart fields + frames).
    const response = await signUpOverHttp(idp.url, username, parts.enrollFrames, { name: 'Alice' });
    expect(response.status, response.text).toBe(303);
    expect(response.location).toBe(`${idp.url}/signup/done`);
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const signIn = async (extra: Record<string, string> = {}) => {
    const request = await authRequest(config, extra);
    const http = new HttpClient(idp.url);
    const { callback } = await signInOverHttp(http, request, username, parts.sameFrames);
    return { request, callback, http };
  };

  it('publishes discovery metadata for code + PKCE (S256) with the face acr values', async () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(idp.url);
    expect(metadata.response_types_supported).toEqual(['code', 'none']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.acr_values_supported).toEqual(['urn:faceid-fhe:acr:face', 'urn:faceid-fhe:acr:face-otp', 'urn:faceid-fhe:acr:passkey-face']);
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['sub', 'acr', 'amr', 'auth_time', 'preferred_username', 'email']));
    expect(metadata.revocation_endpoint).toBe(`${idp.url}/token/revocation`);
    expect(metadata.end_session_endpoint).toBe(`${idp.url}/session/end`);
    expect(metadata.userinfo_endpoint).toBe(`${idp.url}/me`);
    // Per-client options (test/unit/oidc/relying-party-options.test.ts): ID-token algs with a key
    // each, pairwise subjects, PAR (required per client, not for all), both logout channels.
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
    expect(metadata.subject_types_supported).toEqual(['public', 'pairwise']);
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${idp.url}/request`);
    expect(metadata.require_pushed_authorization_requests).toBeUndefined();
    expect(metadata).toMatchObject({
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      frontchannel_logout_supported: true,
      frontchannel_logout_session_supported: true,
    });
    const jwks = (await (await fetch(metadata.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((key) => key.alg).sort()).toEqual(['ES256', 'ES256', 'RS256', 'RS256']);
    expect(jwks.keys.every((key) => key.d === undefined)).toBe(true);
  });

  it('signs in with the face: code + PKCE -> ID token with acr, amr and auth_time; userinfo', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { request, callback } = await signIn();
    const tokens = await exchange(config, callback, request);
    const claims = tokens.claims()!;
    expect(claims.amr).toEqual(['face']);
    expect(claims.acr).toBe('urn:faceid-fhe:acr:face');
    expect(claims.auth_time).toBeGreaterThanOrEqual(before - 1);
    expect(claims.nonce).toBe(request.nonce);
    expect(claims.aud).toBe(clientId);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, preferred_username: username, email: 'alice@example.com', name: 'Alice' });
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('answers response_mode=form_post with an auto-submitting page that our CSP allows (its script hash is added)', async () => {
    const request = await authRequest(config, { response_mode: 'form_post' });
    const http = new HttpClient(idp.url);
    let response = await http.follow(await http.get(request.url.href));
    const state = response.json<{ csrf: string; next: Record<string, string> }>();
    await http.postForm(state.next.login!, { username, csrf: state.csrf });
    response = await http.follow(await http.postFrames(state.next.face!, { csrf: state.csrf }, parts.sameFrames));
    if (response.text.includes('"prompt":"consent"')) {
      const consent = response.json<{ csrf: string; next: Record<string, string> }>();
      response = await http.follow(await http.postForm(consent.next.confirm!, { csrf: consent.csrf }));
    }
    expect(response.status).toBe(200);
    expect(response.text).toContain(`action="${REDIRECT_URI}"`);
    expect(response.text).toMatch(/name="code" value="[^"]+"/);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src[^;]*'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
  });

  it('issues refresh tokens for offline_access after consent, rotates them and refuses a reused one', async () => {
    const { request, callback } = await signIn({ scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchange(config, callback, request);
    expect(tokens.refresh_token).toMatch(/^[\w-]{40,}$/);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()?.amr).toEqual(['face']);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('revokes access and refresh tokens (RFC 7009)', async () => {
    const { request, callback } = await signIn({ scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchange(config, callback, request);
    await oidc.tokenRevocation(config, tokens.access_token);
    await expect(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck)).rejects.toMatchObject({ status: 401 });
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('logs out through RP-initiated logout and returns to the client', async () => {
    const { request, callback, http } = await signIn();
    const tokens = await exchange(config, callback, request);
    const endSession = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example/', state: 'bye' });
    const page = await http.get(endSession.href, 'text/html');
    expect(page.status).toBe(200);
    const action = /<form[^>]+action="([^"]+)"/.exec(page.text)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)?.[1];
    expect(action && xsrf).toBeTruthy();
    const confirmed = await http.postForm(action!, { xsrf: xsrf!, logout: 'yes' }, 'text/html');
    const done = await http.follow(confirmed);
    expect(done.location).toBe('https://rp.example/?state=bye');
    // The session is gone: a new authorization asks for the login prompt again.
    const again = await http.follow(await http.get((await authRequest(config)).url.href));
    expect(again.json<{ prompt: string }>().prompt).toBe('login');
  });

  describe('refuses what it must', () => {
    it('an unregistered redirect_uri: error page, no redirect', async () => {
      const request = await authRequest(config, { redirect_uri: 'https://evil.example/callback' });
      const response = await new HttpClient(idp.url).get(request.url.href, 'text/html');
      expect(response.status).toBe(400);
      expect(response.location).toBeUndefined();
      expect(response.text).toContain('redirect_uri');
    });

    it('a request without PKCE, or with the plain method', async () => {
      const http = new HttpClient(idp.url);
      const noPkce = new URL(config.serverMetadata().authorization_endpoint!);
      noPkce.search = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 's1234567' }).toString();
      const response = await http.get(noPkce.href);
      expect(response.status).toBe(303);
      expect(new URL(response.location!).searchParams.get('error')).toBe('invalid_request');
      noPkce.searchParams.set('code_challenge', 'a'.repeat(43));
      noPkce.searchParams.set('code_challenge_method', 'plain');
      const plain = await http.get(noPkce.href);
      expect(new URL(plain.location!).searchParams.get('error')).toBe('invalid_request');
    });

    it('a PKCE verifier that does not match', async () => {
      const { request, callback } = await signIn();
      await expect(exchange(config, callback, { ...request, codeVerifier: oidc.randomPKCECodeVerifier() })).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('a replayed authorization code, and revokes what the first use issued (RFC 6749 4.1.2)', async () => {
      const { request, callback } = await signIn();
      const tokens = await exchange(config, callback, request);
      await expect(exchange(config, callback, request)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck)).rejects.toMatchObject({ status: 401 });
    });

    it('an expired authorization code', async () => {
      const { request, callback } = await signIn();
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5 * 60 * 1000 });
      try {
        await expect(exchange(config, callback, request)).rejects.toMatchObject({ error: 'invalid_grant' });
      } finally {
        vi.useRealTimers();
      }
    });

    it('a face that does not match: denial, readable, and no code', async () => {
      const request = await authRequest(config);
      const http = new HttpClient(idp.url);
      const { last, callback } = await signInOverHttp(http, request, username, parts.otherFrames);
      expect(last.status).toBe(401);
      expect(last.json()).toMatchObject({ error: 'face_not_matched', message: expect.stringContaining('did not match') });
      expect(callback.searchParams.get('code')).toBeNull();
    });

    it('an unknown username gets exactly the same denial', async () => {
      const request = await authRequest(config);
      const { last } = await signInOverHttp(new HttpClient(idp.url), request, 'nobody-here', parts.sameFrames);
      expect(last.status).toBe(401);
      expect(last.json()).toMatchObject({ error: 'face_not_matched' });
    });
  });
});
