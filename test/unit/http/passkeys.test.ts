import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeParts, type FakeParts } from '../../../support/fakes.ts';
import { HttpClient, type Response } from '../../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../../support/idp.ts';
import { accountSignIn, authRequest, exchange, postJson, REDIRECT_URI, registerClient, signUpOverHttp, type AuthRequest, type InteractionState } from '../../../support/signin.ts';
import { createSoftAuthenticator } from '../../../support/soft-authenticator.ts';

/**
 * Passkeys over the HTTP contract, with a software authenticator (support/soft-authenticator.ts)
 * and fake face parts: registration on the account page, usernameless sign-in (passkey, then the
 * face), the passkey as second factor, recovery, and what must be refused — a replayed or
 * cloned assertion, a wrong origin, another account's passkey, an expired challenge.
 */
const PASSKEY_FACE = 'urn:faceid-fhe:acr:passkey-face';

describe('passkeys', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  let origin: string;
  let alice: ReturnType<typeof createSoftAuthenticator>;
  let bob: ReturnType<typeof createSoftAuthenticator>;

  beforeAll(async () => {
    parts = await fakeParts();
    idp = await startIdp({ ...parts.parts, rates: { facePerMinute: 1000, signupPerHour: 1000, totpPerMinute: 1000, passkeyPerMinute: 1000 } });
    origin = new URL(idp.url).origin;
    const rpId = new URL(idp.url).hostname;
    alice = createSoftAuthenticator({ rpId, origin });
    bob = createSoftAuthenticator({ rpId, origin });
    config = (await registerClient(idp, { name: 'Passkey RP', firstParty: true })).config;
    expect((await signUpOverHttp(idp.url, 'alice', parts.enrollFrames)).status).toBe(303);
    expect((await signUpOverHttp(idp.url, 'bob', [await parts.frame('bob'), await parts.frame('bob'), await parts.frame('bob')])).status).toBe(303);
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  async function register(username: string, authenticator: ReturnType<typeof createSoftAuthenticator>, frames: typeof parts.sameFrames, overrides: { origin?: string } = {}, signInPasskey?: (options: { challenge: string }) => unknown) {
    const http = await accountSignIn(new HttpClient(idp.url), username, frames, signInPasskey);
    const csrf = (await http.get('/account')).json<{ csrf: string }>().csrf;
    const options = await postJson(http, '/account/passkeys/options', { csrf });
    expect(options.status, options.text).toBe(200);
    return postJson(http, '/account/passkeys', { csrf, name: `${username}'s key`, response: authenticator.register(options.json(), overrides) });
  }

  /** A fresh sign-in at its login page: the interaction state (csrf, next links). */
  async function start(extra: Record<string, string> = {}): Promise<{ http: HttpClient; request: AuthRequest; state: InteractionState & { uid: string } }> {
    const http = new HttpClient(idp.url);
    const request = await authRequest(config, extra);
    const state = (await http.follow(await http.get(request.url.href))).json<InteractionState & { uid: string }>();
    return { http, request, state };
  }

  async function usePasskey(http: HttpClient, state: InteractionState, authenticator: ReturnType<typeof createSoftAuthenticator>, overrides: Parameters<ReturnType<typeof createSoftAuthenticator>['authenticate']>[1] = {}): Promise<Response> {
    const options = await http.get(state.next.passkeyOptions ?? state.next.options!);
    expect(options.status, options.text).toBe(200);
    return postJson(http, state.next.passkey!, { csrf: state.csrf, response: authenticator.authenticate(options.json(), overrides) });
  }

  const finishWithFace = async (http: HttpClient, state: InteractionState, location: string, frames: typeof parts.sameFrames) => {
    const face = await http.get(location);
    expect(face.json<{ step: string }>().step).toBe('face');
    return http.follow(await http.postFrames(new URL(location, idp.url).pathname, { csrf: state.csrf }, frames));
  };

  it('registers a passkey only after a fresh sign-in with the face; the first one brings recovery codes', async () => {
    const anonymous = await postJson(new HttpClient(idp.url), '/account/passkeys/options', { csrf: 'x' });
    expect(anonymous.status).toBe(401);
    const added = await register('alice', alice, parts.sameFrames);
    expect(added.status, added.text).toBe(200);
    const body = added.json<{ location: string; recoveryCodes: string[] }>();
    expect(body.recoveryCodes).toHaveLength(10);
    const audit = await idp.database.knex('audit_events').where({ type: 'passkey_registered' });
    expect(audit).toHaveLength(1);
    const row = await idp.database.knex('webauthn_credentials').first();
    expect(row).toMatchObject({ name: "alice's key", device_type: 'singleDevice', backed_up: false });
    expect(Number(row.counter)).toBe(0); // bigint: a string on PostgreSQL, a number on PGlite
    expect((await register('bob', bob, [await parts.frame('bob')])).status).toBe(200);
    // Created for another origin (a phishing page relaying the account page): refused, audited.
    const relayed = await register('alice', createSoftAuthenticator({ rpId: new URL(idp.url).hostname, origin }), parts.sameFrames, { origin: 'https://phish.example' }, (options) => alice.authenticate(options));
    expect(relayed.status).toBe(401);
    expect(relayed.json()).toMatchObject({ error: 'passkey_invalid' });
    expect(await idp.database.knex('audit_events').where({ type: 'passkey_registered', outcome: 'denied' })).toHaveLength(1);
  });

  it('signs in without a username: the passkey names the account, then the face; acr passkey-face, amr hwk user face mfa', async () => {
    const { http, request, state } = await start();
    const passkey = await usePasskey(http, state, alice);
    expect(passkey.status, passkey.text).toBe(200);
    const location = passkey.json<{ location: string }>().location;
    expect(location).toBe(`/interaction/${state.uid}/face`);
    expect((await http.get(location)).json<{ username: string }>().username).toBe('alice');
    const done = await finishWithFace(http, state, location, parts.sameFrames);
    expect(done.location).toMatch(new RegExp(`^${REDIRECT_URI}`));
    const claims = (await exchange(config, new URL(done.location!), request)).claims()!;
    expect(claims.acr).toBe(PASSKEY_FACE);
    expect(claims.amr).toEqual(['hwk', 'user', 'face', 'mfa']);
  });

  it('another account\'s passkey followed by this face is denied', async () => {
    const { http, state } = await start();
    const location = (await usePasskey(http, state, bob)).json<{ location: string }>().location;
    expect((await http.get(location)).json<{ username: string }>().username).toBe('bob');
    const face = await http.postFrames(new URL(location, idp.url).pathname, { csrf: state.csrf }, parts.sameFrames);
    expect(face.status).toBe(401);
    expect(face.json()).toMatchObject({ error: 'face_not_matched' });
  });

  it('validates the JSON ceremonies: type, size, shape and the CSRF token, with readable errors', async () => {
    const { http, state } = await start();
    await http.get(state.next.passkeyOptions!);
    const post = (body: string, type = 'application/json') => http.request(state.next.passkey!, { method: 'POST', body, headers: { 'content-type': type } });
    expect((await post('csrf=x', 'application/x-www-form-urlencoded')).json()).toMatchObject({ error: 'unsupported_media_type' });
    expect((await post('{"csrf":')).json()).toMatchObject({ error: 'bad_request' });
    expect((await post('[1,2]')).json()).toMatchObject({ error: 'bad_request' });
    const huge = await post(JSON.stringify({ csrf: state.csrf, response: 'A'.repeat(64 * 1024) }));
    expect(huge.status).toBe(413);
    expect((await post(JSON.stringify({ csrf: 'forged', response: {} }))).json()).toMatchObject({ error: 'csrf_invalid' });
    const shapeless = await post(JSON.stringify({ csrf: state.csrf, response: 'not an assertion' }));
    expect(shapeless.status).toBe(401);
    expect(shapeless.json()).toMatchObject({ error: 'passkey_invalid' });
  });

  it('refuses a replayed assertion, a spent challenge, a wrong origin and a counter that goes back', async () => {
    const denied = async () => (await idp.database.knex('audit_events').where({ type: 'passkey_signin', outcome: 'denied' })).length;
    const deniedBefore = await denied();
    const first = await start();
    const options = (await first.http.get(first.state.next.passkeyOptions!)).json<{ challenge: string }>();
    const assertion = alice.authenticate(options);
    expect((await postJson(first.http, first.state.next.passkey!, { csrf: first.state.csrf, response: assertion })).status).toBe(200);
    // The same assertion again: its challenge is spent.
    const spent = await postJson(first.http, first.state.next.passkey!, { csrf: first.state.csrf, response: assertion });
    expect(spent.json()).toMatchObject({ error: 'challenge_expired' });
    // Replayed into a new sign-in (a new challenge): refused.
    const second = await start();
    await second.http.get(second.state.next.passkeyOptions!);
    const replay = await postJson(second.http, second.state.next.passkey!, { csrf: second.state.csrf, response: assertion });
    expect(replay.status).toBe(401);
    expect(replay.json()).toMatchObject({ error: 'passkey_invalid' });
    // Signed for another origin (a phishing site relaying the ceremony).
    const third = await start();
    const phished = await usePasskey(third.http, third.state, alice, { origin: 'https://faceid-fhe.example.evil' });
    expect(phished.json()).toMatchObject({ error: 'passkey_invalid' });
    // A cloned authenticator: its counter is behind the stored one.
    const fourth = await start();
    const cloned = await usePasskey(fourth.http, fourth.state, alice, { counter: 1 });
    expect(cloned.json()).toMatchObject({ error: 'passkey_invalid' });
    expect(await denied()).toBe(deniedBefore + 3);
  });

  it('asks for the passkey after the face on the username path, and takes only this account\'s passkeys', async () => {
    const { http, request, state } = await start();
    const login = await http.postForm(state.next.login!, { username: 'alice', csrf: state.csrf });
    const face = await http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, parts.sameFrames);
    expect(face.status).toBe(303);
    expect(face.location).toBe(`${idp.url}/interaction/${state.uid}/passkey`);
    const page = (await http.get(face.location!)).json<InteractionState>();
    // Bob's passkey cannot be the second factor of Alice's sign-in.
    expect((await usePasskey(http, page, bob)).json()).toMatchObject({ error: 'passkey_invalid' });
    const ok = await usePasskey(http, page, alice);
    expect(ok.status, ok.text).toBe(200);
    const done = await http.follow(await http.get(ok.json<{ location: string }>().location));
    expect(done.status, done.text).toBe(303);
    const claims = (await exchange(config, new URL(done.location!), request)).claims()!;
    expect(claims.acr).toBe(PASSKEY_FACE);
    expect(claims.amr).toEqual(['face', 'hwk', 'user', 'mfa']);
  });

  it('a lost passkey: the face and a recovery code still sign in (acr face-otp)', async () => {
    const codes = (await (async () => {
      expect((await signUpOverHttp(idp.url, 'carol', [await parts.frame('carol'), await parts.frame('carol'), await parts.frame('carol')])).status).toBe(303);
      const added = await register('carol', createSoftAuthenticator({ rpId: new URL(idp.url).hostname, origin }), [await parts.frame('carol')]);
      return added.json<{ recoveryCodes: string[] }>().recoveryCodes;
    })());
    const { http, request, state } = await start();
    const login = await http.postForm(state.next.login!, { username: 'carol', csrf: state.csrf });
    const face = await http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, [await parts.frame('carol')]);
    expect(face.location).toMatch(/\/passkey$/);
    const totp = await http.postForm(`/interaction/${state.uid}/totp`, { code: codes[0]!, csrf: state.csrf });
    const done = await http.follow(totp);
    const claims = (await exchange(config, new URL(done.location!), request)).claims()!;
    expect(claims.acr).toBe('urn:faceid-fhe:acr:face-otp');
    expect(claims.amr).toEqual(['face', 'otp', 'mfa']);
  });

  it('an account without a passkey cannot meet a passkey-face request (unmet, never a weaker token)', async () => {
    expect((await signUpOverHttp(idp.url, 'dora', [await parts.frame('dora'), await parts.frame('dora'), await parts.frame('dora')])).status).toBe(303);
    const { http, state } = await start({ acr_values: PASSKEY_FACE });
    const login = await http.postForm(state.next.login!, { username: 'dora', csrf: state.csrf });
    const face = await http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, [await parts.frame('dora')]);
    expect(face.status).toBe(403);
    expect(face.json()).toMatchObject({ error: 'unmet_authentication_requirements' });
    const back = await http.follow(await http.postForm(`/interaction/${state.uid}/unmet`, { csrf: state.csrf }));
    expect(new URL(back.location!).searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  it('once an account has a passkey, the face alone does not open the account page (it cannot remove the passkey)', async () => {
    const http = new HttpClient(idp.url);
    const state = (await http.follow(await http.get('/account/login'))).json<InteractionState>();
    const login = await http.postForm(state.next.login!, { username: 'bob', csrf: state.csrf });
    const face = await http.follow(await http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, [await parts.frame('bob')]));
    expect(face.json<InteractionState>().step).toBe('passkey');
    const account = await http.get('/account');
    expect(account.status).toBe(303); // back to /account/login: no account session
    expect(new URL(account.location!).pathname).toBe('/account/login');
  });

  it('a removed passkey no longer signs in; discovery lists passkey-face but not a passkey alone', async () => {
    const http = await accountSignIn(new HttpClient(idp.url), 'bob', [await parts.frame('bob')], (options) => bob.authenticate(options));
    const account = (await http.get('/account')).json<{ csrf: string; passkeys: Array<{ id: string }> }>();
    expect(account.passkeys).toHaveLength(1);
    const removed = await http.postForm(`/account/passkeys/${account.passkeys[0]!.id}/remove`, { csrf: account.csrf });
    expect(removed.status).toBe(303);
    const { http: browser, state } = await start();
    expect((await usePasskey(browser, state, bob)).json()).toMatchObject({ error: 'passkey_invalid' });
    const metadata = config.serverMetadata() as { acr_values_supported?: string[] };
    expect(metadata.acr_values_supported).toEqual(expect.arrayContaining([PASSKEY_FACE, 'urn:faceid-fhe:acr:face', 'urn:faceid-fhe:acr:face-otp']));
    expect(metadata.acr_values_supported).not.toContain('urn:faceid-fhe:acr:passkey');
  });

  // Last: it locks the passkey step of alice (and counts against this test's one IP).
  it('locks the passkey step after five failures, like the code step: then even the right passkey waits (429)', async () => {
    const { http, state } = await start();
    const login = await http.postForm(state.next.login!, { username: 'alice', csrf: state.csrf });
    const face = await http.follow(await http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, parts.sameFrames));
    const page = face.json<InteractionState>();
    expect(page.step).toBe('passkey');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const wrong = await usePasskey(http, page, alice, { origin: 'https://phish.example' });
      expect(wrong.json()).toMatchObject({ error: 'passkey_invalid' });
    }
    const locked = await usePasskey(http, page, alice);
    expect(locked.status).toBe(429);
    expect(locked.json()).toMatchObject({ error: 'too_many_attempts' });
    const events = await idp.database.knex('audit_events').where({ type: 'lockout', outcome: 'passkey' });
    expect(events.length).toBeGreaterThanOrEqual(1);
  });
});
