import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeParts, type FakeParts } from '../../support/fakes.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { signUpOverHttp } from '../../support/signin.ts';

/**
 * The console's routes, authenticated as the operator, under random and malformed input: real
 * account and client ids or junk in the path, random fields (and the real CSRF token or not),
 * every body type, random query filters. Whatever happens, the answer is a page or a redirect or
 * a 4xx with a stable error code: never a 5xx. The face engine is the fast fake (no face is
 * looked at here); the custodian, HE engine, database and provider are real.
 */
type Body = NonNullable<Parameters<HttpClient['request']>[1]>['body'];
const OPERATOR = { user: 'operator', password: 'correct horse battery' };
const AUTH = { authorization: `Basic ${Buffer.from(`${OPERATOR.user}:${OPERATOR.password}`).toString('base64')}` };

describe('admin console under fuzzed input', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let http: HttpClient;
  let csrf: string;
  const accountIds: string[] = [];
  const clientIds: string[] = [];

  beforeAll(async () => {
    parts = await fakeParts();
    idp = await startIdp(parts.parts, { env: { ADMIN_USER: OPERATOR.user, ADMIN_PASSWORD: OPERATOR.password } });
    for (const name of ['fuzz-a', 'fuzz-b']) {
      expect((await signUpOverHttp(idp.url, name, parts.enrollFrames)).status).toBe(303);
      accountIds.push((await idp.app.services.accounts.findByUsername(name))!.id);
    }
    for (let i = 0; i < 4; i += 1) {
      const id = `fuzz-plain-${i}`;
      await idp.app.services.queries.accounts.insert({ id, username: `plain${i}`, email: `p${i}@fuzz.example`, email_verified: false, name: '', biometric_consent_at: new Date() });
      accountIds.push(id);
    }
    for (const authMethod of ['client_secret_basic', 'none'] as const) {
      clientIds.push((await idp.app.services.clients.add({ name: `Fuzz ${authMethod}`, redirectUris: ['https://rp.example/cb'], authMethod })).clientId);
    }
    http = new HttpClient(idp.url, AUTH);
    csrf = (await http.get('/admin/users')).json<{ csrf: string }>().csrf;
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const junk = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.string({ maxLength: 20 }).map((text) => `${text}\u0000${text}`),
    fc.constantFrom('', ' ', '%', '_', '\\', '../..', '<script>', '\u0000', 'https://rp.example/cb', 'https://rp.example/cb#x', 'javascript:alert(1)', 'confidential', 'public', 'on', 'plain0', 'A'.repeat(5000)),
  );
  const id = (known: string[]) => fc.oneof(fc.constantFrom(...known), junk).map((value) => encodeURIComponent(value) || 'x');

  it('POST routes: random fields, bodies and ids answer without a 5xx', async () => {
    const route = fc.oneof(
      fc.tuple(id(accountIds), fc.constantFrom('lock', 'unlock', 'reset-face', 'delete')).map(([account, action]) => `/admin/users/${account}/${action}`),
      fc.tuple(id(clientIds), fc.constantFrom('rotate-secret', 'delete')).map(([client, action]) => `/admin/clients/${client}/${action}`),
      fc.constantFrom('/admin/clients', '/admin/keys/rotate', '/admin/users', '/admin/audit', '/admin'),
    );
    const fields = fc.dictionary(fc.oneof(fc.constantFrom('reason', 'confirm', 'name', 'redirect_uris', 'post_logout_uris', 'type', 'first_party', 'csrf'), fc.string({ maxLength: 20 })), junk, { maxKeys: 8 });
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fields, fc.boolean()).map(([f, withToken]) => ({ type: 'application/x-www-form-urlencoded', data: new URLSearchParams(withToken ? { ...f, csrf } : f).toString() as Body })) },
      { weight: 1, arbitrary: fields.map((f) => ({ type: 'application/json', data: JSON.stringify({ ...f, csrf }) as Body })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ type: 'application/x-www-form-urlencoded', data: Buffer.from(bytes) as Body })) },
      { weight: 1, arbitrary: fc.constantFrom('multipart/form-data; boundary=x', 'text/plain', '', 'application/x-www-form-urlencoded; charset=utf-16').map((type) => ({ type, data: `csrf=${csrf}&reason=x` as Body })) },
    );
    await fc.assert(
      fc.asyncProperty(route, body, fc.constantFrom('application/json', 'text/html'), async (path, payload, accept) => {
        const response = await http.request(path, { method: 'POST', body: payload.data, headers: payload.type ? { 'content-type': payload.type } : {}, accept });
        const what = `POST ${path} (${payload.type}) -> ${response.status}: ${response.text.slice(0, 300)}`;
        expect(response.status, what).toBeLessThan(500);
        expect([200, 201, 303].includes(response.status) || response.status >= 400, what).toBe(true);
        // (A path no route has is the app's plain 404, whatever was asked for.)
        if (response.status >= 400 && accept === 'application/json' && response.headers.get('content-type')?.includes('json')) expect(response.json<{ error: string }>().error, what).toMatch(/^[a-z_]+$/);
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
  });

  it('NUL and control characters in filters and fields are a 400 (PostgreSQL refuses NUL in text)', async () => {
    for (const path of ['/admin/users?q=%00', '/admin/users?after=a%00', '/admin/audit?username=%00', '/admin/audit?type=%00']) {
      const response = await http.get(path);
      expect(response.status, `${path}: ${response.text.slice(0, 200)}`).toBe(400);
    }
    // Bytes that are not UTF-8 arrive as U+FFFD: a filter that matches nothing.
    for (const path of ['/admin/audit?username=%ED%A0%80', '/admin/users?q=%ED%A0%80', '/admin/users?q=%FF']) {
      expect((await http.get(path)).status, path).toBe(200);
    }
    // An account of its own: the fuzzing before may have deleted any of the others.
    await idp.app.services.queries.accounts.insert({ id: 'nul-test', username: 'nultest', email: 'nul@fuzz.example', email_verified: false, name: '', biometric_consent_at: new Date() });
    const lock = await http.postForm('/admin/users/nul-test/lock', { csrf, reason: 'a\u0000b' });
    expect(lock.status, lock.text).toBe(400);
    expect((await idp.app.services.accounts.findById('nul-test'))!.locked_at).toBeNull();
  });

  it('GET pages: random filters and ids answer without a 5xx', async () => {
    const query = fc.dictionary(fc.constantFrom('type', 'outcome', 'username', 'account', 'from', 'to', 'before', 'after', 'q', 'done'), fc.oneof(junk, fc.constantFrom('2021-01-01', '2021-02-30', '99999999999999999999', '0', '-1', 'signin', 'denied')), { maxKeys: 6 });
    const path = fc.oneof(fc.constantFrom('/admin', '/admin/users', '/admin/clients', '/admin/keys', '/admin/audit'), id(accountIds).map((account) => `/admin/users/${account}`));
    await fc.assert(
      fc.asyncProperty(path, query, fc.boolean(), async (base, params, repeat) => {
        const url = new URL(base, idp.url);
        for (const [key, value] of Object.entries(params)) {
          url.searchParams.append(key, value);
          if (repeat) url.searchParams.append(key, value);
        }
        const response = await http.get(url.pathname + url.search);
        expect(response.status, `GET ${url.pathname}${url.search} -> ${response.status}: ${response.text.slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: 250 },
    );
  });
});
