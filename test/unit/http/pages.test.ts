import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createViews } from '../../../src/http/index.ts';
import { fakeParts, type FakeParts } from '../../../support/fakes.ts';
import { HttpClient } from '../../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../../support/idp.ts';
import { accountSignIn, authRequest, postJson, registerClient, signInOverHttp, signUpOverHttp, type InteractionState } from '../../../support/signin.ts';

/**
 * The rough edges a new user hit (issue 13, item 4), over HTTP with fake face parts: a refused
 * sign-up keeps the form, the username is checked before the camera (on the sign-up budget), a
 * wrong first TOTP code keeps the scanned secret, a step-up shows who is signed in, consent is
 * remembered (and revocable), the lock state shows before the camera, and the wording.
 */
describe('page rough edges', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let thirdParty: oidc.Configuration;

  beforeAll(async () => {
    parts = await fakeParts();
    idp = await startIdp({
      ...parts.parts,
      rates: { facePerMinute: 1000, signupPerHour: 1000, totpPerMinute: 1000, passkeyPerMinute: 1000 },
      policies: { faceNewDevice: { maxFailures: 3, baseLockMs: 5 * 60_000, maxLockMs: 60 * 60_000 } },
    });
    ({ config: thirdParty } = await registerClient(idp, { name: 'Calendar App', firstParty: false }));
    expect((await signUpOverHttp(idp.url, 'alice', parts.enrollFrames)).status).toBe(303);
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const html = async (http: HttpClient, path: string) => http.get(path, 'text/html');

  describe('sign-up', () => {
    it('a refused sign-up gives the form back with what was typed and why (no face, a taken username)', async () => {
      const http = new HttpClient(idp.url);
      const csrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
      const fields = { csrf, username: 'carla', email: 'carla@example.com', name: 'Carla Q', consent: 'yes' };
      const noFace = await http.postFrames('/signup', fields, [await parts.blank(), await parts.blank(), await parts.blank()], 'text/html');
      expect(noFace.status).toBe(422);
      expect(noFace.text).toContain('data-error-code="no_face"');
      expect(noFace.text).toContain('value="carla"');
      expect(noFace.text).toContain('value="carla@example.com"');
      expect(noFace.text).toContain('value="Carla Q"');
      expect(noFace.text).toMatch(/name="consent" value="yes" required data-consent checked/);
      const taken = await http.postFrames('/signup', { ...fields, username: 'alice' }, [await parts.frame('carla'), await parts.frame('carla'), await parts.frame('carla')], 'text/html');
      expect(taken.status).toBe(409);
      expect(taken.text).toContain('data-error-code="username_taken"');
      expect(taken.text).toContain('value="alice"');
      // The JSON contract is unchanged: an error object, no page.
      const json = await http.postFrames('/signup', fields, [await parts.blank(), await parts.blank(), await parts.blank()]);
      expect(json.json()).toMatchObject({ error: 'no_face' });
    });

    it('says whether a username is free before the camera, and validates it', async () => {
      const http = new HttpClient(idp.url);
      const csrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
      expect((await postJson(http, '/signup/username', { csrf, username: 'Alice' })).json()).toEqual({ username: 'alice', available: false });
      expect((await postJson(http, '/signup/username', { csrf, username: 'brand.new' })).json()).toEqual({ username: 'brand.new', available: true });
      const bad = await postJson(http, '/signup/username', { csrf, username: '-x' });
      expect(bad.status).toBe(422);
      expect(bad.json()).toMatchObject({ error: 'signup_invalid' });
      expect((await postJson(http, '/signup/username', { csrf: 'forged', username: 'alice' })).json()).toMatchObject({ error: 'csrf_invalid' });
      const page = await html(http, '/signup');
      expect(page.text).toContain('data-check-username="/signup/username"');
      expect(page.text).toContain('<script src="/static/signup.js"');
    });
  });

  it('the username check spends the sign-up budget: it is no cheaper an oracle than a sign-up', async () => {
    const tight = await startIdp({ ...parts.parts, rates: { facePerMinute: 1000, signupPerHour: 3, totpPerMinute: 1000 } });
    try {
      const http = new HttpClient(tight.url);
      const csrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
      for (const name of ['one.name', 'two.name', 'three.name']) expect((await postJson(http, '/signup/username', { csrf, username: name })).status).toBe(200);
      expect((await postJson(http, '/signup/username', { csrf, username: 'four.name' })).json()).toMatchObject({ error: 'rate_limited' });
      // …and the sign-up itself is now over budget too (one counter).
      const signup = await http.postFrames('/signup', { csrf, username: 'four.name', email: 'f@example.com', consent: 'yes' }, [await parts.frame('four'), await parts.frame('four'), await parts.frame('four')]);
      expect(signup.json()).toMatchObject({ error: 'rate_limited' });
    } finally {
      await tight.close();
    }
  });

  it('a wrong first TOTP code keeps the secret the app already has; cancel drops it', async () => {
    const http = await accountSignIn(new HttpClient(idp.url), 'alice', parts.sameFrames);
    const csrf = (await http.get('/account')).json<{ csrf: string }>().csrf;
    const first = (await http.postForm('/account/totp/begin', { csrf })).json<{ secret: string }>().secret;
    const wrong = await http.postForm('/account/totp', { csrf, code: '000000' }, 'text/html');
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('data-error-code="totp_invalid"');
    expect(wrong.text).toContain(first);
    expect((await http.postForm('/account/totp/begin', { csrf })).json<{ secret: string }>().secret).toBe(first); // a reload shows it again
    expect((await http.postForm('/account/totp/cancel', { csrf })).status).toBe(303);
    expect((await http.postForm('/account/totp/begin', { csrf })).json<{ secret: string }>().secret).not.toBe(first);
    await http.postForm('/account/totp/cancel', { csrf });
  });

  it('a step-up shows who is signed in and stays with that account whatever is typed', async () => {
    const http = new HttpClient(idp.url);
    expect((await signInOverHttp(http, await authRequest(thirdParty), 'alice', parts.sameFrames)).callback.searchParams.get('code')).toBeTruthy();
    // The session is face-only: asking for face + code is a step-up (oidc-provider reason acr_step_up).
    const stepUp = await authRequest(thirdParty, { acr_values: 'urn:faceid-fhe:acr:face-otp' });
    const start = await http.follow(await http.get(stepUp.url.href));
    const state = start.json<InteractionState & { uid: string }>();
    const page = await html(http, `/interaction/${state.uid}`);
    expect(page.text).toContain('data-signed-in>alice<');
    expect(page.text).not.toContain('id="username"');
    // A typed-in other username changes nothing: the face step is for alice.
    await http.postForm(state.next.login!, { csrf: state.csrf, username: 'mallory' });
    expect((await http.get(`/interaction/${state.uid}/face`)).json<{ username: string }>().username).toBe('alice');
  });

  it('remembers consent across sessions (not for prompt=consent), and the account page revokes it', async () => {
    const { config: thirdParty, clientId: thirdPartyId } = await registerClient(idp, { name: 'Photo Printing Ltd', firstParty: false });
    const first = await signInOverHttp(new HttpClient(idp.url), await authRequest(thirdParty), 'alice', parts.sameFrames);
    expect(first.steps).toContain('consent');
    // A new browser session: signed in again, and not asked again.
    const second = await signInOverHttp(new HttpClient(idp.url), await authRequest(thirdParty), 'alice', parts.sameFrames);
    expect(second.steps).toEqual(['face']);
    expect(second.callback.searchParams.get('code')).toBeTruthy();
    // An explicit prompt=consent (e.g. for a refresh token) is always asked.
    const asked = await signInOverHttp(new HttpClient(idp.url), await authRequest(thirdParty, { prompt: 'consent', scope: 'openid offline_access' }), 'alice', parts.sameFrames);
    expect(asked.steps).toContain('consent');
    // Revoked on the account page: asked again, and the old grants are gone.
    const account = await accountSignIn(new HttpClient(idp.url), 'alice', parts.sameFrames);
    const view = (await account.get('/account')).json<{ csrf: string; apps: Array<{ clientId: string; name: string }> }>();
    expect(view.apps).toContainEqual(expect.objectContaining({ clientId: thirdPartyId, name: 'Photo Printing Ltd' }));
    expect((await account.postForm(`/account/apps/${thirdPartyId}/revoke`, { csrf: 'forged' })).status).toBe(403);
    expect((await account.postForm(`/account/apps/${thirdPartyId}/revoke`, { csrf: view.csrf })).status).toBe(303);
    expect(await idp.database.knex('oidc_payloads').where({ model: 'Grant' }).whereRaw("payload->>'clientId' = ?", [thirdPartyId])).toHaveLength(0);
    expect(await idp.database.knex('audit_events').where({ type: 'consent_revoked' })).toHaveLength(1);
    const again = await signInOverHttp(new HttpClient(idp.url), await authRequest(thirdParty), 'alice', parts.sameFrames);
    expect(again.steps).toContain('consent');
  });

  it('shows the attempts left and the lock before the camera starts', async () => {
    expect((await signUpOverHttp(idp.url, 'lockme', [await parts.frame('lockme'), await parts.frame('lockme'), await parts.frame('lockme')])).status).toBe(303);
    const http = new HttpClient(idp.url);
    const attempt = async () => {
      const state = (await http.follow(await http.get((await authRequest(thirdParty)).url.href))).json<InteractionState>();
      const login = await http.postForm(state.next.login!, { username: 'lockme', csrf: state.csrf });
      const face = new URL(login.location!).pathname;
      return { face, csrf: state.csrf };
    };
    const a = await attempt();
    expect((await http.get(a.face)).json<{ attempts: { lockedSeconds: number; remaining: number } }>().attempts).toEqual({ lockedSeconds: 0, remaining: 3 });
    expect((await http.postFrames(a.face, { csrf: a.csrf }, [await parts.frame('someone else')])).status).toBe(401);
    const b = await attempt();
    expect((await http.get(b.face)).json<{ attempts: { remaining: number } }>().attempts.remaining).toBe(2);
    expect((await html(http, b.face)).text).toContain('data-attempts-left="2"');
    await http.postFrames(b.face, { csrf: b.csrf }, [await parts.frame('someone else')]);
    await http.postFrames(b.face, { csrf: b.csrf }, [await parts.frame('someone else')]);
    const c = await attempt();
    const locked = (await http.get(c.face)).json<{ attempts: { lockedSeconds: number; remaining: number } }>().attempts;
    expect(locked.remaining).toBe(0);
    expect(locked.lockedSeconds).toBeGreaterThan(200);
    expect((await html(http, c.face)).text).toMatch(/data-locked-seconds="\d+"/);
  });

  it('reads well: titles, the logout question, readable activity, the deleted page, the favicon', async () => {
    const http = await accountSignIn(new HttpClient(idp.url), 'alice', parts.sameFrames);
    const account = await html(http, '/account');
    expect(account.text).not.toMatch(/face_refused:|signin: success|account-console/);
    expect(account.text).toContain('Signed in');
    expect(account.text).toContain('This account page');
    const login = await html(new HttpClient(idp.url), '/account/login');
    const loginPage = await html(new HttpClient(idp.url), new URL(login.location!).href);
    expect(loginPage.status).toBe(303); // /auth -> the interaction
    const wrong = await html(http, '/no/such/page');
    expect(wrong.text).toContain('Page not found');
    const icon = await new HttpClient(idp.url).get('/favicon.ico');
    expect(icon.status).toBe(301);
    expect(icon.location).toMatch(/\/static\/favicon\.svg$/);
    const svg = await new HttpClient(idp.url).get('/static/favicon.svg');
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    const views = createViews();
    expect(views.render('logout.njk', { form: '' })).toContain('Sign out of FaceID-FHE?');
    expect(views.render('account-deleted.njk', {})).toContain('href="/signup"');
    expect(views.render('login.njk', { uid: 'u', csrf: 'c', client: { name: 'your FaceID-FHE account' } })).toContain('Sign in to your FaceID-FHE account');
    expect(views.render('face.njk', { uid: 'u', username: 'alice', frames: 3 })).not.toMatch(/turn them into an encrypted template/);
  });
});
