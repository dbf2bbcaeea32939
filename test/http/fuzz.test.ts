import fc from 'fast-check';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { multipart, rawRequest } from '../../support/raw-http.ts';
import { authRequest, registerClient, type InteractionState } from '../../support/signin.ts';

/**
 * Every public endpoint fed random bytes, huge fields, wrong content types and odd methods
 * (fast-check): never a 5xx, never a crash. Half the requests carry a live interaction's cookies
 * and CSRF token so the fuzz reaches past the first guard.
 */
const ENDPOINTS = [
  '/interaction/{uid}', '/interaction/{uid}/login', '/interaction/{uid}/face', '/interaction/{uid}/signup', '/interaction/{uid}/totp',
  '/interaction/{uid}/confirm', '/interaction/{uid}/abort', '/interaction/{uid}/unmet', '/signup', '/signup/done',
  '/auth', '/token', '/token/revocation', '/token/introspection', '/me', '/session/end', '/session/end/confirm', '/jwks',
  '/.well-known/openid-configuration', '/account', '/account/login', '/account/callback', '/account/face', '/account/totp', '/account/totp/begin',
  '/account/totp/remove', '/account/recovery-codes', '/account/delete', '/admin/audit', '/metrics', '/readyz', '/static/camera.js', '/',
];

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----fuzz', 'multipart/form-data', 'application/json',
  'text/plain', 'image/jpeg', '', 'application/x-www-form-urlencoded; charset=utf-16', 'multipart/form-data; boundary=',
];

describe('fuzzed input on every public endpoint', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  const live: Array<{ http: HttpClient; state: InteractionState }> = [];

  beforeAll(async () => {
    parts = await realParts();
    idp = await startIdp({ ...parts.parts, rates: { facePerMinute: 100_000, signupPerHour: 100_000, totpPerMinute: 100_000 } }, { env: { ADMIN_USER: 'operator', ADMIN_PASSWORD: 'correct horse battery' } });
    config = (await registerClient(idp, { name: 'Fuzz RP' })).config;
    for (let i = 0; i < 8; i += 1) {
      const http = new HttpClient(idp.url);
      live.push({ http, state: (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>() });
    }
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const body = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }),
    fc.string({ maxLength: 512 }).map((text) => new TextEncoder().encode(text)),
    fc.tuple(fc.constantFrom('username', 'code', 'csrf', 'email', 'frame', 'grant_type', 'token', 'xsrf'), fc.nat(300_000)).map(([name, size]) => new TextEncoder().encode(`${name}=${'A'.repeat(size)}`)),
    fc.constant(new TextEncoder().encode('------fuzz\r\nContent-Disposition: form-data; name="frame"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0garbage\r\n------fuzz--\r\n')),
  );

  it('answers every request without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.constantFrom(...CONTENT_TYPES),
        body,
        fc.nat(live.length - 1),
        fc.boolean(),
        fc.dictionary(fc.constantFrom('client_id', 'response_type', 'redirect_uri', 'scope', 'code_challenge', 'state', 'prompt', 'claims', 'acr_values', 'max_age', 'return', 'type', 'before'), fc.string({ maxLength: 300 }), { maxKeys: 5 }),
        async (template, method, contentType, payload, which, withSession, query) => {
          const session = live[which]!;
          const path = template.replace('{uid}', withSession ? session.state.next.login!.split('/')[2]! : 'x'.repeat(21));
          const url = new URL(path, idp.url);
          for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
          const client = withSession ? session.http : new HttpClient(idp.url);
          const response = await client.request(url.href, {
            method,
            headers: contentType ? { 'content-type': contentType, 'x-csrf': session.state.csrf } : {},
            ...(method === 'GET' ? {} : { body: payload }),
            accept: fc.sample(fc.constantFrom('application/json', 'text/html', '*/*'), 1)[0],
          });
          expect(response.status, `${method} ${path} (${contentType}) -> ${response.status}: ${response.text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 400 },
    );
    expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
  });

  it('survives random multipart bodies with real boundaries and random frames', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 4096 }), { maxLength: 9 }), fc.nat(live.length - 1), fc.constantFrom('image/jpeg', 'image/png', 'application/octet-stream'), async (frames, which, type) => {
        const { http, state } = live[which]!;
        const response = await http.postFrames(state.next.face!, { csrf: state.csrf }, frames.map((data) => ({ data, type })));
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
  });

  it('survives truncated, aborted and malformed multipart bodies on every upload route', async () => {
    const boundary = 'fuzzb';
    const { http, state } = live[0]!;
    const login = await http.postForm(state.next.login!, { username: 'fuzz-user', csrf: state.csrf });
    const facePath = new URL(login.location!).pathname;
    const routes = [facePath, new URL(state.next.signup!, idp.url).pathname, '/signup', '/account/face'];
    const signupCsrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.nat(4000),
        fc.constantFrom('truncate', 'abort', 'garble', 'lie-length'),
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        async (path, cut, how, noise) => {
          const csrf = path === '/signup' ? signupCsrf : state.csrf;
          const whole = multipart(boundary, [
            { name: 'csrf', value: csrf },
            { name: 'username', value: 'fuzzer' },
            { name: 'frame', file: { data: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(noise)]), type: 'image/jpeg' } },
          ]);
          const at = Math.min(cut, whole.length);
          const body = how === 'garble' ? Buffer.concat([whole.subarray(0, at), Buffer.from(noise), whole.subarray(at)]) : whole.subarray(0, at);
          // truncate: a complete request whose multipart ends early; lie-length and abort: the
          // connection ends before the declared length.
          const length = how === 'lie-length' ? whole.length + 100 : how === 'abort' ? whole.length : body.length;
          const response = await rawRequest(idp.url, {
            path,
            headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(length), Cookie: http.jar.header(path), Accept: 'application/json' },
            chunks: [body, Buffer.alloc(0)],
            ...(how === 'abort' ? { abortAfter: 1 } : {}),
            ...(how === 'lie-length' || how === 'truncate' ? { endAfterWrite: true } : {}),
          });
          if (response.status !== undefined) expect(response.status, `${how} ${path} at ${at}: ${response.text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 120 },
    );
    expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
  });
});
