import * as oidc from 'openid-client';
import { expect } from 'vitest';
import { HttpClient, type Response } from './http-client.ts';
import type { IdpHandle } from './idp.ts';
import type { Burst } from './clock.ts';

export const REDIRECT_URI = 'https://rp.example/callback';

export interface Frame {
  data: Uint8Array;
  type?: string;
}

export async function discover(issuer: string, clientId: string, clientSecret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
}

/** Registers a client with a secret that redirects to REDIRECT_URI, and discovers the IdP as that client. */
export async function registerClient(idp: Pick<IdpHandle, 'url' | 'app'>, client: Omit<Parameters<IdpHandle['app']['services']['clients']['add']>[0], 'redirectUris'>): Promise<{ config: oidc.Configuration; clientId: string }> {
  const { clientId, clientSecret } = await idp.app.services.clients.add({ ...client, redirectUris: [REDIRECT_URI] });
  return { config: await discover(idp.url, clientId, clientSecret!), clientId };
}

export interface AuthRequest {
  url: URL;
  codeVerifier: string;
  state: string;
  nonce: string;
}

export async function authRequest(config: oidc.Configuration, extra: Record<string, string> = {}): Promise<AuthRequest> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, codeVerifier, state, nonce };
}

export interface SignInOptions {
  /** Answer consent prompts (default) or deny them. */
  consent?: boolean;
  /** Supplies the second factor when the IdP asks for one. */
  totp?: () => Promise<string>;
  /** The client's redirect_uri, when it is not REDIRECT_URI (pass the same to authRequest). */
  redirectUri?: string;
  /** Presentation-attack detection: `frames` are a burst with these capture times, answering a fresh challenge. */
  burst?: Burst;
}

/**
 * PAD over the contract: a challenge from `${path}/challenge` (the face step, /signup), then the
 * burst answering it, posted to `path` with `fields` (csrf first, as the contract asks).
 */
export async function postBurst(client: HttpClient, path: string, fields: { csrf: string } & Record<string, string>, frames: Frame[], burst: Burst, accept?: string): Promise<Response> {
  const challenge = await client.postForm(`${path}/challenge`, { csrf: fields.csrf }, 'application/json');
  expect(challenge.status, challenge.text).toBe(200);
  // As a camera would: the burst is filmed after the challenge arrives (see Burst).
  burst.clock.advance(burst.times.at(-1) ?? 0);
  return client.postFrames(path, { ...fields, challenge: challenge.json<{ challenge: string }>().challenge, times: JSON.stringify(burst.times) }, frames, accept);
}

export interface InteractionState {
  prompt: string;
  step?: string;
  csrf: string;
  next: Record<string, string>;
}

/**
 * Drives one sign-in over the documented HTTP contract: authorize -> interaction (JSON) ->
 * username -> frames -> (TOTP) -> (consent) -> the redirect to the client. Stops early at any
 * refusal, returning that response as `last`; on success `callback` is the client's redirect_uri
 * with the code (or an error). With a live session the IdP may skip straight to the callback.
 */
export async function signInOverHttp(client: HttpClient, request: AuthRequest, username: string, frames: Frame[], options: SignInOptions = {}): Promise<{ last: Response; callback: URL; steps: string[] }> {
  const steps: string[] = [];
  const redirectUri = options.redirectUri ?? REDIRECT_URI;
  let response = await client.follow(await client.get(request.url.href));
  for (let round = 0; round < 8; round += 1) {
    if (response.location?.startsWith(redirectUri)) return { last: response, callback: new URL(response.location), steps };
    if (response.status !== 200) return { last: response, callback: new URL('about:blank'), steps };
    const state = response.json<InteractionState>();
    if (state.step === 'totp') {
      steps.push('totp');
      if (!options.totp) throw new Error('the IdP asked for a TOTP code');
      response = await client.postForm(state.next.totp!, { code: await options.totp(), csrf: state.csrf });
    } else if (state.prompt === 'login') {
      steps.push('face');
      response = await client.postForm(state.next.login!, { username, csrf: state.csrf });
      expect(response.status, response.text).toBe(303);
      const facePath = new URL(response.location!).pathname;
      response = options.burst ? await postBurst(client, facePath, { csrf: state.csrf }, frames, options.burst) : await client.postFrames(facePath, { csrf: state.csrf }, frames);
    } else if (state.prompt === 'consent') {
      steps.push('consent');
      response = await client.postForm(options.consent === false ? state.next.abort! : state.next.confirm!, { csrf: state.csrf });
    } else {
      throw new Error(`unexpected interaction state ${JSON.stringify(state)}`);
    }
    if (response.status !== 303) return { last: response, callback: new URL('about:blank'), steps };
    response = await client.follow(response);
  }
  throw new Error('sign-in did not finish');
}

export async function exchange(config: oidc.Configuration, callback: URL, request: AuthRequest) {
  return oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}

/** Enrollment over the contract: GET /signup for the CSRF token, then POST /signup with the frames. */
export async function signUpOverHttp(base: string, username: string, frames: Frame[], options: { headers?: Record<string, string>; name?: string; burst?: Burst } = {}): Promise<Response> {
  const http = new HttpClient(base, options.headers);
  const csrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
  const fields = { csrf, username, email: `${username}@example.com`, name: options.name ?? '', consent: 'yes' };
  // PAD: the frames are a burst answering the sign-up page's challenge.
  return options.burst ? postBurst(http, '/signup', fields, frames, options.burst) : http.postFrames('/signup', fields, frames);
}

/**
 * Signs in to the account page (its own response_type=none client) over HTTP with the face, and
 * returns the client with the session (the account page then answers JSON with `profile`). An
 * account with a passkey is asked for it after the face: pass `passkey` (an authenticator's
 * `authenticate`) to answer it. With PAD on, pass the frames' `burst` (capture times and the
 * IdP's test clock): the face step then answers a challenge with them as a burst.
 */
export async function accountSignIn(http: HttpClient, username: string, frames: Frame[], passkey?: (options: { challenge: string }) => unknown, burst?: Burst): Promise<HttpClient> {
  let response = await http.follow(await http.get('/account/login'));
  for (let step = 0; step < 6 && response.status === 200; step += 1) {
    const state = response.json<InteractionState & { profile?: unknown }>();
    if (state.profile) return http;
    if (state.step === 'passkey' && passkey) {
      const options = (await http.get(state.next.options!)).json<{ challenge: string }>();
      const used = await postJson(http, state.next.passkey!, { csrf: state.csrf, response: passkey(options) });
      expect(used.status, used.text).toBe(200);
      response = await http.follow(await http.get(used.json<{ location: string }>().location));
      continue;
    }
    response = await http.postForm(state.next.login!, { username, csrf: state.csrf });
    const facePath = new URL(response.location!).pathname;
    response = await http.follow(burst ? await postBurst(http, facePath, { csrf: state.csrf }, frames, burst) : await http.postFrames(facePath, { csrf: state.csrf }, frames));
  }
  expect(response.json(), response.text).toHaveProperty('profile');
  return http;
}

/** POSTs JSON (what our pages' scripts send) with the cookies of `http`. */
export function postJson(http: HttpClient, path: string, body: unknown) {
  return http.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}
