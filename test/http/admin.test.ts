import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { createSoftAuthenticator } from '../../support/soft-authenticator.ts';
import { accountSignIn, authRequest, discover, exchange, postJson, REDIRECT_URI, registerClient, signInOverHttp, signUpOverHttp, type InteractionState } from '../../support/signin.ts';

/**
 * The operators' console through the real app (real face engine, custodian process, database and
 * oidc-provider): every action's effect, its audit row with the operator as the actor, and the
 * refusals an attacker meets (no or wrong credentials, a forged form without the CSRF token, one
 * with another browser's token). A lock is proved by signing in over HTTP: refused with
 * account_locked, refresh tokens dead; after the unlock the same sign-in goes through.
 */
const OPERATOR = { user: 'operator', password: 'correct horse battery' };
const AUTH = { authorization: `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}` };

describe('admin console', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  let clientId: string;

  const console_ = () => new HttpClient(idp.url, AUTH);
  /** An operator's browser: its CSRF cookie and the token of the console's forms. */
  const operatorBrowser = async () => {
    const http = console_();
    const { csrf } = (await http.get('/admin/users')).json<{ csrf: string }>();
    return { http, csrf };
  };
  const accountOf = async (username: string) => (await idp.app.services.accounts.findByUsername(username))!;
  const auditRows = (type: string) => idp.app.services.db('audit_events').where({ type }).orderBy('id', 'desc');
  const signIn = async (username: string, frames = parts.sameFrames, extra: Record<string, string> = {}) => {
    const request = await authRequest(config, extra);
    return { request, ...(await signInOverHttp(new HttpClient(idp.url), request, username, frames)) };
  };

  beforeAll(async () => {
    parts = await realParts();
    idp = await startIdp(parts.parts, { env: { ADMIN_USER: OPERATOR.user, ADMIN_PASSWORD: OPERATOR.password } });
    ({ config, clientId } = await registerClient(idp, { name: 'Console test RP' }));
    for (const [username, frames] of [['alice', parts.enrollFrames], ['bob', parts.otherEnrollFrames], ['carol', parts.enrollFrames]] as const) {
      const response = await signUpOverHttp(idp.url, username, frames);
      expect(response.status, response.text).toBe(303);
    }
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  describe('the gate', () => {
    it('refuses every page and action without the operator credentials, and with wrong ones', async () => {
      const alice = await accountOf('alice');
      for (const path of ['/admin', '/admin/users', `/admin/users/${alice.id}`, '/admin/clients', '/admin/keys', '/admin/audit']) {
        expect((await fetch(`${idp.url}${path}`)).status, path).toBe(401);
      }
      const anonymous = new HttpClient(idp.url);
      const post = await anonymous.postForm(`/admin/users/${alice.id}/lock`, { reason: 'x', csrf: 'x' });
      expect(post.status).toBe(401);
      expect(post.headers.get('www-authenticate')).toContain('Basic');
      // Two wrong passwords (five would lock this address out for the rest of the file).
      const wrong = new HttpClient(idp.url, { authorization: `Basic ${Buffer.from('operator:guess').toString('base64')}` });
      expect((await wrong.get('/admin/users')).status).toBe(401);
      expect((await wrong.postForm('/admin/keys/rotate', { csrf: 'x' })).status).toBe(401);
      expect((await accountOf('alice')).locked_at).toBeNull();
      expect((await auditRows('admin_login')).filter((row) => row.outcome === 'denied').length).toBeGreaterThanOrEqual(2);
    });

    it('refuses a console form without the CSRF token, or with another browser\'s token: nothing changes', async () => {
      const alice = await accountOf('alice');
      const keysBefore = await idp.app.services.signingKeys.list();
      const http = console_();
      await http.get('/admin/users'); // the cookie, but the form is forged without the token
      const forged = await http.postForm(`/admin/users/${alice.id}/lock`, { reason: 'forged' });
      expect(forged.status).toBe(403);
      expect(forged.json()).toMatchObject({ error: 'csrf_invalid' });
      const other = await operatorBrowser();
      for (const path of [`/admin/users/${alice.id}/lock`, `/admin/users/${alice.id}/reset-face`, `/admin/users/${alice.id}/delete`, '/admin/keys/rotate', '/admin/clients', `/admin/clients/${clientId}/delete`, `/admin/clients/${clientId}/rotate-secret`]) {
        const crossed = await http.postForm(path, { csrf: other.csrf, confirm: 'alice', name: 'x', redirect_uris: REDIRECT_URI });
        expect(crossed.status, path).toBe(403);
      }
      expect((await accountOf('alice')).locked_at).toBeNull();
      expect(await idp.app.services.accounts.template(alice.id)).toBeDefined();
      expect((await idp.app.services.signingKeys.list()).map((k) => k.kid)).toEqual(keysBefore.map((k) => k.kid));
      expect((await idp.app.services.clients.list()).some((c) => c.clientId === clientId)).toBe(true);
    });

    it('GET pages change nothing: a GET to an action path is not found', async () => {
      const alice = await accountOf('alice');
      for (const path of [`/admin/users/${alice.id}/lock`, `/admin/users/${alice.id}/delete`, '/admin/keys/rotate']) {
        expect((await console_().get(path)).status, path).toBe(404);
      }
      expect((await accountOf('alice')).locked_at).toBeNull();
    });
  });

  describe('users', () => {
    it('lock refuses the sign-in (account_locked 403), ends the sessions and refresh tokens; unlock restores the sign-in', async () => {
      const alice = await accountOf('alice');
      // Before: alice signs in and holds a refresh token.
      const before = await signIn('alice', parts.sameFrames, { scope: 'openid offline_access', prompt: 'consent' });
      expect(before.callback.searchParams.get('code'), before.last.text).toBeTruthy();
      const tokens = await exchange(config, before.callback, before.request);
      expect(tokens.refresh_token).toBeTruthy();

      const { http, csrf } = await operatorBrowser();
      const locked = await http.postForm(`/admin/users/${alice.id}/lock`, { csrf, reason: 'suspicious activity' });
      expect(locked.status, locked.text).toBe(303);
      expect(locked.location).toBe(`${idp.url}/admin/users/${alice.id}?done=locked`);
      const row = await accountOf('alice');
      expect(row.locked_at).toBeInstanceOf(Date);
      expect(row.locked_reason).toBe('suspicious activity');
      const [audit] = await auditRows('account_locked');
      expect(audit).toMatchObject({ outcome: 'success', account_id: alice.id, detail: { actor: 'operator', operator: 'operator' } });

      // A second lock is a conflict, not a second event.
      expect((await http.postForm(`/admin/users/${alice.id}/lock`, { csrf, reason: 'again' })).status).toBe(409);

      // The right face is refused, with the stable code, and audited.
      const refused = await signIn('alice');
      expect(refused.last.status, refused.last.text).toBe(403);
      expect(refused.last.json()).toMatchObject({ error: 'account_locked' });
      // A browser gets a page that says so.
      const browser = new HttpClient(idp.url);
      const state = (await browser.follow(await browser.get((await authRequest(config)).url.href))).json<InteractionState>();
      const face = await browser.postForm(state.next.login!, { username: 'alice', csrf: state.csrf });
      const page = await browser.postFrames(new URL(face.location!).pathname, { csrf: state.csrf }, parts.sameFrames, 'text/html');
      expect(page.status).toBe(403);
      expect(page.text).toContain('<h1>Account locked</h1>');
      expect(page.text).toContain('locked by an operator');
      expect((await auditRows('signin')).find((event) => event.outcome === 'locked')).toMatchObject({ account_id: alice.id });
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

      // The user page shows the lock.
      const userPage = await http.get(`/admin/users/${alice.id}`, 'text/html');
      expect(userPage.text).toContain('suspicious activity');
      expect(userPage.text).toContain('data-locked');

      const unlocked = await http.postForm(`/admin/users/${alice.id}/unlock`, { csrf });
      expect(unlocked.status, unlocked.text).toBe(303);
      expect((await accountOf('alice')).locked_at).toBeNull();
      expect((await auditRows('account_unlocked'))[0]).toMatchObject({ account_id: alice.id, detail: { actor: 'operator' } });
      const after = await signIn('alice');
      expect(after.callback.searchParams.get('code'), after.last.text).toBeTruthy();
      expect((await http.postForm(`/admin/users/${alice.id}/unlock`, { csrf })).status).toBe(409);
    });

    it('a lock alone (even with a refresh token left in the database) stops the refresh: the provider does not know a locked account', async () => {
      const signedIn = await signIn('alice', parts.sameFrames, { scope: 'openid offline_access', prompt: 'consent' });
      const tokens = await exchange(config, signedIn.callback, signedIn.request);
      const alice = await accountOf('alice');
      await idp.app.services.queries.accounts.setLock(alice.id, { reason: 'direct' });
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await idp.app.services.queries.accounts.setLock(alice.id, null);
    });

    it('a locked account\'s passkey does not sign in either (usernameless: the passkey names the account)', async () => {
      expect((await signUpOverHttp(idp.url, 'dave', parts.enrollFrames)).status).toBe(303);
      const dave = await accountOf('dave');
      const authenticator = createSoftAuthenticator({ rpId: new URL(idp.url).hostname, origin: new URL(idp.url).origin });
      const account = await accountSignIn(new HttpClient(idp.url), 'dave', parts.sameFrames);
      const accountCsrf = (await account.get('/account')).json<{ csrf: string }>().csrf;
      const creation = await postJson(account, '/account/passkeys/options', { csrf: accountCsrf });
      expect((await postJson(account, '/account/passkeys', { csrf: accountCsrf, name: 'key', response: authenticator.register(creation.json()) })).status).toBe(200);

      const usePasskey = async () => {
        const http = new HttpClient(idp.url);
        const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
        const options = await http.get(state.next.passkeyOptions!);
        return postJson(http, state.next.passkey!, { csrf: state.csrf, response: authenticator.authenticate(options.json()) });
      };
      expect((await usePasskey()).status).toBe(200); // before: the passkey leads on to the face step

      const { http, csrf } = await operatorBrowser();
      expect((await http.postForm(`/admin/users/${dave.id}/lock`, { csrf, reason: 'lost device' })).status).toBe(303);
      // The lock ended the account page's session too.
      expect((await account.get('/account')).status).toBe(303);
      const refused = await usePasskey();
      expect(refused.status, refused.text).toBe(403);
      expect(refused.json()).toMatchObject({ error: 'account_locked' });
      expect((await http.postForm(`/admin/users/${dave.id}/unlock`, { csrf })).status).toBe(303);
      expect((await usePasskey()).status).toBe(200);
    });

    it('reset face removes the template: the same face no longer signs in; audited', async () => {
      const bob = await accountOf('bob');
      const { http, csrf } = await operatorBrowser();
      const reset = await http.postForm(`/admin/users/${bob.id}/reset-face`, { csrf });
      expect(reset.status, reset.text).toBe(303);
      expect(await idp.app.services.accounts.template(bob.id)).toBeUndefined();
      expect((await auditRows('face_removed'))[0]).toMatchObject({ account_id: bob.id, detail: { actor: 'operator' } });
      const refused = await signIn('bob', parts.otherFrames);
      expect(refused.last.status).toBe(401);
      expect(refused.last.json()).toMatchObject({ error: 'face_not_matched' });
      expect((await http.postForm(`/admin/users/${bob.id}/reset-face`, { csrf })).status).toBe(409);
      expect((await http.get(`/admin/users/${bob.id}`, 'text/html')).text).toContain('no template');
    });

    it('delete needs the username typed; then the account is gone, audited under a pseudonym with the operator as the actor', async () => {
      const carol = await accountOf('carol');
      const { http, csrf } = await operatorBrowser();
      const mismatch = await http.postForm(`/admin/users/${carol.id}/delete`, { csrf, confirm: 'alice' });
      expect(mismatch.status).toBe(422);
      expect(mismatch.json()).toMatchObject({ error: 'admin_confirm_mismatch' });
      expect(await idp.app.services.accounts.findById(carol.id)).toBeDefined();
      const deleted = await http.postForm(`/admin/users/${carol.id}/delete`, { csrf, confirm: 'carol' });
      expect(deleted.status, deleted.text).toBe(303);
      expect(await idp.app.services.accounts.findById(carol.id)).toBeUndefined();
      expect((await auditRows('account_deleted'))[0]).toMatchObject({ account_id: idp.app.services.audit.pseudonym(carol.id), detail: { actor: 'operator' } });
      expect((await http.get(`/admin/users/${carol.id}`)).status).toBe(404);
      expect((await http.postForm(`/admin/users/${carol.id}/delete`, { csrf, confirm: 'carol' })).status).toBe(404);
    });

    it('searches by username or email prefix and pages through the accounts', async () => {
      const idAlice = (await accountOf('alice')).id;
      await idp.app.services.queries.audit.insert({ type: 'signin', outcome: 'success', accountId: idAlice });
      for (let i = 0; i < 30; i += 1) {
        await idp.app.services.queries.accounts.insert({ id: `search-${i}`, username: `zed${String(i).padStart(2, '0')}`, email: `z${i}@paging.example`, email_verified: false, name: '', biometric_consent_at: new Date() });
      }
      const http = console_();
      const first = (await http.get('/admin/users?q=zed')).json<{ users: Array<{ username: string }>; next?: string }>();
      expect(first.users).toHaveLength(25);
      expect(first.users[0]!.username).toBe('zed00');
      const second = (await http.get(`/admin/users?q=zed&after=${first.next}`)).json<{ users: Array<{ username: string }>; next?: string }>();
      expect(second.users.map((u) => u.username)).toEqual(['zed25', 'zed26', 'zed27', 'zed28', 'zed29']);
      expect(second.next).toBeUndefined();
      expect((await http.get('/admin/users?q=Z1@PAGING')).json<{ users: unknown[] }>().users).toHaveLength(1);
      // LIKE's wildcards are literal: "%" matches no one.
      expect((await http.get('/admin/users?q=%25')).json<{ users: unknown[] }>().users).toHaveLength(0);
      expect((await http.get('/admin/users?q=ali', 'text/html')).text).toContain('data-username="alice"');
      // User activity: the last successful sign-in of each listed account.
      const listed = (await http.get('/admin/users?q=')).json<{ users: Array<{ username: string; lastSignInAt: string | null }> }>().users;
      const lastAlice = (await auditRows('signin')).find((row) => row.outcome === 'success' && row.account_id === idAlice)!;
      expect(listed.find((u) => u.username === 'alice')!.lastSignInAt).toBe(new Date(lastAlice.at).toISOString());
      expect(listed.find((u) => u.username === 'zed00')!.lastSignInAt).toBeNull();
    });
  });

  describe('clients', () => {
    /** Whether the token endpoint accepts this client's credentials (invalid_grant means it did). */
    const authenticates = async (id: string, secret: string) => {
      const response = await fetch(`${idp.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: REDIRECT_URI, code_verifier: 'x'.repeat(43) }),
      });
      return ((await response.json()) as { error: string }).error !== 'invalid_client';
    };

    it('registers a confidential client (secret shown once), rotates its secret (the old one stops working) and deletes it; each audited', async () => {
      const { http, csrf } = await operatorBrowser();
      const created = await http.postForm('/admin/clients', { csrf, name: 'Console RP', redirect_uris: `${REDIRECT_URI}\r\nhttps://rp.example/other`, type: 'confidential', first_party: 'on' });
      expect(created.status, created.text).toBe(201);
      const { clientId: id, clientSecret } = created.json<{ clientId: string; clientSecret: string }>();
      expect(clientSecret).toMatch(/^[\w-]{43}$/);
      const listed = (await idp.app.services.clients.list()).find((c) => c.clientId === id)!;
      expect(listed).toMatchObject({ name: 'Console RP', redirectUris: [REDIRECT_URI, 'https://rp.example/other'], firstParty: true, authMethod: 'client_secret_basic' });
      expect(await authenticates(id, clientSecret)).toBe(true);
      // The secret is not on the clients page.
      expect((await http.get('/admin/clients', 'text/html')).text).not.toContain(clientSecret);

      const rotated = await http.postForm(`/admin/clients/${id}/rotate-secret`, { csrf });
      expect(rotated.status, rotated.text).toBe(200);
      const fresh = rotated.json<{ clientSecret: string }>().clientSecret;
      expect(fresh).not.toBe(clientSecret);
      expect(await authenticates(id, clientSecret)).toBe(false);
      expect(await authenticates(id, fresh)).toBe(true);
      // A relying party with the new secret signs in.
      config = await discover(idp.url, id, fresh);
      const signedIn = await signIn('alice');
      expect((await exchange(config, signedIn.callback, signedIn.request)).access_token).toBeTruthy();

      const deleted = await http.postForm(`/admin/clients/${id}/delete`, { csrf });
      expect(deleted.status).toBe(303);
      expect(await authenticates(id, fresh)).toBe(false);
      expect((await http.postForm(`/admin/clients/${id}/delete`, { csrf })).status).toBe(404);
      expect((await http.postForm(`/admin/clients/${id}/rotate-secret`, { csrf })).status).toBe(404);
      // The IdP's own account-page client stays.
      expect((await http.postForm('/admin/clients/account-console/delete', { csrf })).status).toBe(409);
      expect((await idp.app.services.clients.list()).some((c) => c.clientId === 'account-console')).toBe(true);
      for (const type of ['client_added', 'client_secret_rotated', 'client_deleted']) {
        expect((await auditRows(type)).find((row) => row.client_id === id), type).toMatchObject({ detail: { actor: 'operator', operator: 'operator', via: 'console' } });
      }
    });

    it('registers a public client without a secret; it has no secret to rotate; bad input is a 400', async () => {
      const { http, csrf } = await operatorBrowser();
      const created = await http.postForm('/admin/clients', { csrf, name: 'SPA', redirect_uris: 'https://spa.example/cb', type: 'public' });
      expect(created.status).toBe(201);
      const { clientId: id, clientSecret } = created.json<{ clientId: string; clientSecret?: string }>();
      expect(clientSecret).toBeUndefined();
      expect((await http.postForm(`/admin/clients/${id}/rotate-secret`, { csrf })).json()).toMatchObject({ error: 'client_invalid' });
      const bad: Array<Record<string, string>> = [
        { name: '', redirect_uris: 'https://a.example/cb' },
        { name: 'x', redirect_uris: '' },
        { name: 'x', redirect_uris: 'not a url' },
        { name: 'x', redirect_uris: 'https://a.example/cb#fragment' },
        { name: 'x', redirect_uris: 'https://a.example/cb', type: 'weird' },
        { name: 'x'.repeat(101), redirect_uris: 'https://a.example/cb' },
      ];
      for (const fields of bad) {
        const response = await http.postForm('/admin/clients', { csrf, ...fields });
        expect(response.status, JSON.stringify(fields)).toBe(400);
        const html = await http.postForm('/admin/clients', { csrf, ...fields }, 'text/html');
        expect(html.text).toContain('data-error-code');
      }
    });
  });

  describe('signing keys', () => {
    it('rotates: the next key becomes active, audited', async () => {
      const { http, csrf } = await operatorBrowser();
      const before = (await http.get('/admin/keys')).json<{ keys: Array<{ kid: string; alg: string; state: string }> }>().keys;
      const next = before.filter((k) => k.state === 'next').map((k) => k.kid).sort();
      const rotated = await http.postForm('/admin/keys/rotate', { csrf });
      expect(rotated.status).toBe(303);
      const after = (await http.get('/admin/keys')).json<{ keys: Array<{ kid: string; state: string }> }>().keys;
      expect(after.filter((k) => k.state === 'active').map((k) => k.kid).sort()).toEqual(next);
      expect((await auditRows('keys_rotated'))[0]).toMatchObject({ detail: { actor: 'operator', activated: expect.arrayContaining(next) } });
      expect((await http.get('/admin/keys?done=rotated', 'text/html')).text).toContain('Restart the IdP processes');
    });
  });

  describe('audit log and dashboard', () => {
    it('filters by type, outcome, username and date range, and pages both ways', async () => {
      const { db } = idp.app.services;
      const alice = await accountOf('alice');
      const rows = Array.from({ length: 120 }, (_, i) => ({
        at: new Date(Date.UTC(2021, 0, 1 + (i % 20), 12)),
        type: 'paging_test', outcome: i % 2 ? 'odd' : 'even', account_id: i < 10 ? alice.id : null, detail: JSON.stringify({ i }),
      }));
      await db('audit_events').insert(rows);
      const http = console_();
      type Page = { events: Array<{ id: string; type: string; outcome: string; account_id: string | null; at: string }>; total: number; next?: string; previous?: string };
      const get = async (query: string) => {
        const response = await http.get(`/admin/audit?${query}`);
        expect(response.status, response.text).toBe(200);
        return response.json<Page>();
      };
      const first = await get('type=paging_test');
      expect(first.total).toBe(120);
      expect(first.events).toHaveLength(50);
      expect(first.previous).toBeUndefined();
      const second = await get(`type=paging_test&before=${first.next}`);
      const third = await get(`type=paging_test&before=${second.next}`);
      expect(third.events).toHaveLength(20);
      expect(third.next).toBeUndefined();
      const ids = [...first.events, ...second.events, ...third.events].map((e) => Number(e.id));
      expect(new Set(ids).size).toBe(120);
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      // Back towards the newest: the page before the second is the first.
      const back = await get(`type=paging_test&after=${second.previous}`);
      expect(back.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
      expect(back.previous).toBeUndefined();

      expect((await get('type=paging_test&outcome=odd')).total).toBe(60);
      const byUser = await get('type=paging_test&username=ALICE');
      expect(byUser.total).toBe(10);
      expect(byUser.events.every((e) => e.account_id === alice.id)).toBe(true);
      expect((await get(`type=paging_test&account=${alice.id}`)).total).toBe(10);
      expect((await get('type=paging_test&username=nobody-by-that-name')).total).toBe(0);
      // Days 1 to 5 (inclusive, UTC) hold 6 events each.
      const range = await get('type=paging_test&from=2021-01-01&to=2021-01-05');
      expect(range.total).toBe(30);
      expect(range.events.every((e) => e.at >= '2021-01-01' && e.at < '2021-01-06')).toBe(true);
      expect((await get('from=2021-01-21')).events.some((e) => e.type === 'paging_test')).toBe(false);

      // The select boxes offer the types and outcomes there are; the page keeps the choice.
      const html = await http.get('/admin/audit?type=paging_test&outcome=odd&from=2021-01-01', 'text/html');
      expect(html.text).toMatch(/<select id="type" name="type">[\s\S]*<option value="paging_test" selected>/);
      expect(html.text).toMatch(/<option value="odd" selected>/);
      expect(html.text).toContain('<option value="liveness_refused"');
      expect(html.text).toContain('value="2021-01-01"');
      expect(html.text).toContain('class="table-wrap"');
      expect(html.text).toContain('rel="next"');
    });

    it('answers bad filters with a 400 page, never a 500', async () => {
      const http = console_();
      for (const query of ['before=abc', 'after=1e5', 'from=2021-13-01', 'from=2021-02-30', 'to=yesterday', 'from=2021-02-02&to=2021-02-01', 'type=a%20b', 'outcome=%3Cscript%3E', `type=${'a'.repeat(101)}`, 'type=a&type=b', 'q=x']) {
        const response = await http.get(`/admin/audit?${query}`, 'text/html');
        expect(response.status, query).toBe(query === 'q=x' ? 200 : 400);
        // A readable page with the stable code and a way back to the log.
        if (response.status === 400) expect(response.text).toMatch(/data-error-code="admin_invalid"[\s\S]*href="\/admin\/audit"/);
      }
      expect((await http.get(`/admin/users?q=${'a'.repeat(101)}`)).status).toBe(400);
      expect((await http.get('/admin/users/%3Cscript%3E')).status).toBe(404);
    });

    it('the dashboard counts sign-ins, denials, lockouts and PAD refusals of the last 24 hours and 30 days', async () => {
      const { audit, queries } = idp.app.services;
      const http = console_();
      type Totals = { totals: Record<'day' | 'month', Record<'signins' | 'denials' | 'lockouts' | 'pad', number>> };
      const before = (await http.get('/admin')).json<Totals>().totals;
      await audit.record({ type: 'signin', outcome: 'success', accountId: 'x' });
      await audit.record({ type: 'signin', outcome: 'denied' });
      await audit.record({ type: 'totp_denied', outcome: 'denied' });
      await audit.record({ type: 'lockout', outcome: 'face' });
      // Recorded by the liveness check (src/liveness) as this type.
      await queries.audit.insert({ type: 'liveness_refused', outcome: 'screen_replay' });
      await idp.app.services.db('audit_events').insert({ type: 'signin', outcome: 'success', at: new Date(Date.now() - 3 * 24 * 3600_000) });
      await idp.app.services.db('audit_events').insert({ type: 'signin', outcome: 'success', at: new Date(Date.now() - 40 * 24 * 3600_000) });
      const after = (await http.get('/admin')).json<Totals>().totals;
      expect(after.day.signins - before.day.signins).toBe(1);
      expect(after.month.signins - before.month.signins).toBe(2);
      expect(after.day.denials - before.day.denials).toBe(2);
      expect(after.day.lockouts - before.day.lockouts).toBe(1);
      expect(after.day.pad - before.day.pad).toBe(1);
      const html = (await http.get('/admin', 'text/html')).text;
      expect(html.match(/<svg class="chart chart-wide/g)).toHaveLength(8);
      expect(html).toContain(`data-series="pad" data-range="day" data-total="${after.day.pad}"`);
      expect(html).not.toMatch(/<script|style="/);
    });
  });
});
