import * as oidc from 'openid-client';
import { expect } from 'vitest';
import type { HttpClient, Response } from './http-client.ts';

export const REDIRECT_URI = 'https://rp.example/callback';

export interface Frame {
  data: Uint8Array;
  type?: string;
}

export async function discover(issuer: string, clientId: string, clientSecret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
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

/**
 * Drives one sign-in over the documented HTTP contract: authorize -> interaction (JSON) ->
 * username -> frames -> (consent) -> the redirect to the client. Returns the final response,
 * whose `location` is the client's redirect_uri with the code (or an error).
 */
export async function signInOverHttp(client: HttpClient, request: AuthRequest, username: string, frames: Frame[], options: { consent?: boolean } = {}): Promise<{ last: Response; callback: URL }> {
  let response = await client.get(request.url.href);
  expect(response.status).toBe(303);
  response = await client.follow(response);
  let state = response.json<{ prompt: string; csrf: string; next: Record<string, string> }>();
  if (state.prompt === 'login') {
    response = await client.postForm(state.next.login!, { username, csrf: state.csrf });
    expect(response.status, response.text).toBe(303);
    response = await client.postFrames(new URL(response.location!).pathname, { csrf: state.csrf }, frames);
    if (response.status !== 303) return { last: response, callback: new URL('about:blank') };
    response = await client.follow(response);
  }
  if (response.status === 200 && response.text.includes('"prompt":"consent"')) {
    state = response.json();
    if (options.consent === false) {
      response = await client.postForm(state.next.abort!, { csrf: state.csrf });
    } else {
      response = await client.postForm(state.next.confirm!, { csrf: state.csrf });
    }
    response = await client.follow(response);
  }
  expect(response.location, `expected a redirect to the client, got ${response.status}: ${response.text.slice(0, 300)}`).toMatch(/^https:\/\/rp\.example\/callback/);
  return { last: response, callback: new URL(response.location!) };
}

export async function exchange(config: oidc.Configuration, callback: URL, request: AuthRequest) {
  return oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}
