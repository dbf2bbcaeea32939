import type * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { authRequest, exchange, registerClient, signInOverHttp, signUpOverHttp } from '../../support/signin.ts';

const FACE = 'urn:faceid-fhe:acr:face';
const FACE_OTP = 'urn:faceid-fhe:acr:face-otp';

/**
 * The second factor and step-up, over the protocol: chained face + TOTP, recovery codes,
 * acr_values, an essential acr in the claims parameter, max_age=0 and prompt=login.
 */
describe('TOTP second factor and step-up', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  const secrets = new Map<string, string>();
  const recovery = new Map<string, string[]>();
  // Each code may be used once (replay guard): remember the last step used per user.
  const lastStep = new Map<string, number>();

  const enroll = async (username: string) => {
    const response = await signUpOverHttp(idp.url, username, parts.enrollFrames);
    expect(response.status, response.text).toBe(303);
    return (await idp.app.services.accounts.findByUsername(username))!.id;
  };

  const addTotp = async (username: string) => {
    const id = (await idp.app.services.accounts.findByUsername(username))!.id;
    const { secret } = await idp.app.services.totp.begin(id, username);
    secrets.set(username, secret);
    recovery.set(username, await idp.app.services.totp.confirm(id, await codeFor(username)));
  };

  /**
   * A fresh code for the user: the next 30-second step not used yet (the replay guard forbids
   * reuse). When the +-1 window is used up, the IdP's clock is moved on by one step, as an
   * authenticator app's user would wait for the next code.
   */
  const codeFor = async (username: string): Promise<string> => {
    const now = Math.floor(Date.now() / 30_000);
    // Never the step before `now`: the IdP checks a moment later, and across a step boundary it
    // would be out of its +-1 window. The current step or the next one are always in it.
    const step = Math.max(now, (lastStep.get(username) ?? -Infinity) + 1);
    if (step > now + 1) {
      vi.setSystemTime(Date.now() + 30_000);
      return codeFor(username);
    }
    lastStep.set(username, step);
    return generate({ secret: secrets.get(username)!, epoch: step * 30 });
  };

  beforeAll(async () => {
    // Only Date is faked (timers stay real) and it keeps running; codeFor may move it on.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    // The custodian process keeps real time; allow the few steps the IdP's clock may be ahead.
    parts = await realParts({ custodianEnv: { CUSTODIAN_CLOCK_SKEW_MS: '300000' } });
    idp = await startIdp(parts.parts);
    config = (await registerClient(idp, { name: 'Step-up RP', firstParty: true })).config;
    await enroll('bob'); // face only
    await enroll('carol');
    await addTotp('carol'); // face + TOTP
    await enroll('dave'); // face only at first, TOTP added later
  });

  afterAll(async () => {
    vi.useRealTimers();
    await idp?.close();
    await parts?.close();
  });

  const signIn = async (username: string, extra: Record<string, string> = {}, http = new HttpClient(idp.url), totp?: () => Promise<string>) => {
    const request = await authRequest(config, extra);
    const result = await signInOverHttp(http, request, username, parts.sameFrames, { totp: totp ?? (() => codeFor(username)) });
    return { ...result, request, http };
  };

  it('chains TOTP after the face: amr ["face","otp","mfa"] and the face+TOTP acr', async () => {
    const { callback, request, steps } = await signIn('carol');
    expect(steps).toEqual(['face', 'totp']);
    const claims = (await exchange(config, callback, request)).claims()!;
    expect(claims.amr).toEqual(['face', 'otp', 'mfa']);
    expect(claims.acr).toBe(FACE_OTP);
  });

  it('refuses a wrong code and a replayed code, and accepts a recovery code in place of TOTP', async () => {
    const wrong = await signIn('carol', {}, undefined, async () => '000000');
    expect(wrong.last.status).toBe(401);
    expect(wrong.last.json()).toMatchObject({ error: 'totp_invalid' });

    const used = await codeFor('carol');
    const first = await signIn('carol', {}, undefined, async () => used);
    expect(first.callback.searchParams.get('code')).toBeTruthy();
    const replay = await signIn('carol', {}, undefined, async () => used);
    expect(replay.last.status).toBe(401);

    const [code] = recovery.get('carol')!;
    const viaRecovery = await signIn('carol', {}, undefined, async () => code!);
    const claims = (await exchange(config, viaRecovery.callback, viaRecovery.request)).claims()!;
    expect(claims.amr).toEqual(['face', 'otp', 'mfa']);
    const again = await signIn('carol', {}, undefined, async () => code!);
    expect(again.last.status).toBe(401);
  });

  it('acr_values face+TOTP for an account without TOTP: told so, and the client gets unmet_authentication_requirements', async () => {
    const request = await authRequest(config, { acr_values: FACE_OTP });
    const http = new HttpClient(idp.url);
    const { last } = await signInOverHttp(http, request, 'bob', parts.sameFrames);
    expect(last.status).toBe(403);
    const body = last.json<{ error: string; csrf: string; next: { unmet: string } }>();
    expect(body.error).toBe('unmet_authentication_requirements');
    const back = await http.follow(await http.postForm(body.next.unmet, { csrf: body.csrf }));
    const callback = new URL(back.location!);
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('an essential acr in the claims parameter is met, and a weaker essential acr is asserted without looping', async () => {
    const strong = await signIn('carol', { claims: JSON.stringify({ id_token: { acr: { essential: true, value: FACE_OTP } } }) });
    expect((await exchange(config, strong.callback, strong.request)).claims()!.acr).toBe(FACE_OTP);
    const weak = await signIn('carol', { claims: JSON.stringify({ id_token: { acr: { essential: true, value: FACE } } }) });
    const claims = (await exchange(config, weak.callback, weak.request)).claims()!;
    expect(claims.acr).toBe(FACE);
    expect(claims.amr).toEqual(['face', 'otp', 'mfa']);
    const unmet = await signIn('bob', { claims: JSON.stringify({ id_token: { acr: { essential: true, value: FACE_OTP } } }) });
    expect(unmet.last.status).toBe(403);
  });

  it('steps up inside an existing face-only session: fresh face and TOTP, new acr and auth_time', async () => {
    const first = await signIn('dave');
    expect(first.steps).toEqual(['face']);
    const before = (await exchange(config, first.callback, first.request)).claims()!;
    expect(before.acr).toBe(FACE);

    // Same browser, a plain request: single sign-on, no interaction at all.
    const sso = await signIn('dave', {}, first.http);
    expect(sso.steps).toEqual([]);

    await addTotp('dave');
    vi.setSystemTime(Date.now() + 1100); // auth_time has a resolution of one second
    const stepped = await signIn('dave', { acr_values: FACE_OTP }, first.http);
    expect(stepped.steps).toEqual(['face', 'totp']);
    const after = (await exchange(config, stepped.callback, stepped.request)).claims()!;
    expect(after.acr).toBe(FACE_OTP);
    expect(after.amr).toEqual(['face', 'otp', 'mfa']);
    expect(after.sub).toBe(before.sub);
    expect(after.auth_time).toBeGreaterThan(before.auth_time!);
  });

  it('max_age=0 and prompt=login force a fresh authentication inside a session', async () => {
    const first = await signIn('bob');
    const t0 = (await exchange(config, first.callback, first.request)).claims()!.auth_time!;
    vi.setSystemTime(Date.now() + 1100); // auth_time has a resolution of one second
    const maxAge = await signIn('bob', { max_age: '0' }, first.http);
    expect(maxAge.steps).toEqual(['face']);
    const t1 = (await exchange(config, maxAge.callback, maxAge.request)).claims()!.auth_time!;
    expect(t1).toBeGreaterThan(t0);
    vi.setSystemTime(Date.now() + 1100); // auth_time has a resolution of one second
    const login = await signIn('bob', { prompt: 'login' }, first.http);
    expect(login.steps).toEqual(['face']);
    expect((await exchange(config, login.callback, login.request)).claims()!.auth_time!).toBeGreaterThan(t1);
  });

  it('a step-up is pinned to the session\'s account', async () => {
    const first = await signIn('bob');
    await exchange(config, first.callback, first.request);
    // bob's session; someone else's username (carol, same test face) typed at the step-up: the
    // step is bob's whatever the form says (the page shows "Signed in as bob"), so it is bob's
    // face that is checked, and bob has no second factor: unmet, never a sign-in as carol.
    const carol = await idp.app.services.accounts.findByUsername('carol');
    const carolSignIns = async () => (await idp.database.knex('audit_events').where({ type: 'signin', outcome: 'success', account_id: carol!.id })).length;
    const before = await carolSignIns();
    const other = await signIn('carol', { acr_values: FACE_OTP }, first.http);
    expect(other.last.status).toBe(403);
    expect(other.last.json()).toMatchObject({ error: 'unmet_authentication_requirements' });
    expect(await carolSignIns()).toBe(before);
  });
});
