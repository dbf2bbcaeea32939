import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../../support/idp.ts';
import { fakeParts, type FakeParts } from '../../../support/fakes.ts';
import { authRequest, registerClient, type InteractionState } from '../../../support/signin.ts';

/** Web hardening: CSRF, headers, cookie flags, body caps, uniform errors, operator-only pages. */
describe('web hardening', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let config: oidc.Configuration;

  beforeAll(async () => {
    parts = await fakeParts();
    idp = await startIdp(parts.parts, { env: { ADMIN_USER: 'operator', ADMIN_PASSWORD: 'correct horse battery', METRICS_TOKEN: 'metrics-token-0123456789' } });
    config = (await registerClient(idp, { name: 'Hardening RP' })).config;
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const interaction = async () => {
    const http = new HttpClient(idp.url);
    const first = await http.follow(await http.get((await authRequest(config)).url.href));
    return { http, state: first.json<InteractionState>() };
  };

  describe('CSRF', () => {
    it('refuses form posts without, or with a wrong, token — on every form', async () => {
      const { http, state } = await interaction();
      for (const csrf of [undefined, 'forged', state.csrf.slice(0, -2) + 'xx']) {
        const response = await http.postForm(state.next.login!, csrf === undefined ? { username: 'a' } : { username: 'a', csrf });
        expect(response.status).toBe(403);
        expect(response.json()).toMatchObject({ error: 'csrf_invalid' });
      }
      expect((await http.postForm(state.next.login!, { username: 'a', csrf: state.csrf })).status).toBe(303);
      const face = await http.postFrames(state.next.face!, { csrf: 'forged' }, parts.sameFrames);
      expect(face.status).toBe(403);
      // The token must come first: a frame before it is refused the same way, unread.
      const first = await http.postFrames(state.next.face!, {}, parts.sameFrames);
      expect(first.status).toBe(403);
      const signup = await http.postFrames('/signup', { username: 'x', email: 'x@example.com', consent: 'yes' }, parts.enrollFrames);
      expect(signup.status).toBe(403);
      for (const path of ['/account/totp/begin', '/account/totp', '/account/delete', '/account/recovery-codes', '/account/totp/remove']) {
        expect([401, 403]).toContain((await http.postForm(path, { csrf: 'forged' })).status);
      }
    });

    it('a token from one browser does not work with another browser\'s cookie', async () => {
      const a = await interaction();
      const b = await interaction();
      const response = await b.http.postForm(b.state.next.login!, { username: 'a', csrf: a.state.csrf });
      expect(response.status).toBe(403);
    });
  });

  describe('headers', () => {
    it('sets a strict CSP without inline script, camera only for us, no framing, no caching of interaction pages', async () => {
      const http = new HttpClient(idp.url);
      const page = await http.follow(await http.get((await authRequest(config)).url.href));
      const html = await http.get(`/interaction/${page.json<{ uid: string }>().uid}`, 'text/html');
      expect(html.status, html.text).toBe(200);
      const csp = html.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(html.headers.get('permissions-policy')).toContain('camera=(self)');
      expect(html.headers.get('x-frame-options')).toBe('DENY');
      expect(html.headers.get('x-content-type-options')).toBe('nosniff');
      expect(html.headers.get('referrer-policy')).toBe('no-referrer');
      expect(html.headers.get('cache-control')).toContain('no-store');
      expect(html.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      for (const path of ['/signup', '/account/login']) {
        expect((await http.get(path, 'text/html')).headers.get('cache-control')).toContain('no-store');
      }
    });

    it('lets only the camera tracker worker compile WebAssembly; pages, other scripts and errors keep the strict CSP', async () => {
      const http = new HttpClient(idp.url);
      const worker = await http.get('/static/face-tracker.js');
      expect(worker.status).toBe(200);
      const workerCsp = worker.headers.get('content-security-policy')!;
      // One script-src only: a second one would be ignored by browsers (CSP3 §2.2, first wins).
      expect(workerCsp.match(/script-src/g)).toHaveLength(1);
      expect(workerCsp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(workerCsp).not.toMatch(/'unsafe-eval'|unsafe-inline/);
      for (const path of ['/', '/signup', '/static/camera.js', '/static/vendor/face-api.js', '/static/face-tracker.js.map', '/static/no-such-file.js']) {
        const csp = (await http.get(path)).headers.get('content-security-policy')!;
        expect(csp, path).toContain("script-src 'self'");
        expect(csp, path).not.toContain('wasm-unsafe-eval');
      }
      // The backend's binaries, as WebAssembly (streaming compilation needs the type).
      for (const name of ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm']) {
        const wasm = await fetch(new URL(`/static/vendor/${name}`, idp.url));
        expect(wasm.status, name).toBe(200);
        expect(wasm.headers.get('content-type')).toBe('application/wasm');
        expect([...new Uint8Array(await wasm.arrayBuffer()).slice(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
      }
    });

    it('marks cookies httpOnly and SameSite, and Secure behind an https issuer', async () => {
      const cookies = (await new HttpClient(idp.url).get('/signup', 'text/html')).headers.getSetCookie();
      const csrfCookie = cookies.find((c) => c.startsWith('fid.csrf='))!;
      expect(csrfCookie).toMatch(/;\s*httponly/i);
      expect(csrfCookie).toMatch(/;\s*samesite=strict/i);
      const authorize = await fetch((await authRequest(config)).url, { redirect: 'manual' });
      for (const cookie of authorize.headers.getSetCookie()) expect(cookie.toLowerCase()).toMatch(/httponly/);
      for (const cookie of authorize.headers.getSetCookie()) expect(cookie.toLowerCase()).toMatch(/samesite=lax/);

      const tls = await startIdp(parts.parts, { env: { ISSUER: 'https://id.example.test', TRUST_PROXY: '1' } });
      try {
        const response = await fetch(`${tls.url}/signup`, { headers: { 'x-forwarded-proto': 'https', accept: 'text/html' } });
        expect(response.headers.getSetCookie().every((c) => /;\s*secure/i.test(c))).toBe(true);
        expect(response.headers.get('strict-transport-security')).toContain('max-age=');
      } finally {
        await tls.close();
      }
    });
  });

  describe('body caps and types', () => {
    it('refuses oversized forms, frames and frame counts, and wrong content types, with readable errors', async () => {
      const { http, state } = await interaction();
      const big = await http.postForm(state.next.login!, { username: 'a'.repeat(40_000), csrf: state.csrf });
      expect(big.status).toBe(413);
      const json = await http.request(state.next.login!, { method: 'POST', body: '{"username":"a"}', headers: { 'content-type': 'application/json' } });
      expect(json.status).toBe(415);
      await http.postForm(state.next.login!, { username: 'someone', csrf: state.csrf });
      const hugeFrame = await http.postFrames(state.next.face!, { csrf: state.csrf }, [{ data: new Uint8Array(5 * 1024 * 1024).fill(0xff) }]);
      expect(hugeFrame.status).toBe(413);
      const tooMany = await http.postFrames(state.next.face!, { csrf: state.csrf }, Array.from({ length: 9 }, () => parts.sameFrames[0]!));
      expect(tooMany.status).toBe(413);
      const gif = await http.postFrames(state.next.face!, { csrf: state.csrf }, [{ data: Buffer.from('GIF89a'), type: 'image/gif' }]);
      expect(gif.status).toBe(415);
      // What a browser sends for a file input with no file: one empty, unnamed octet-stream part.
      // That is "no frame" (422 no_frames), not a frame of the wrong type.
      const body = `--b\r\ncontent-disposition: form-data; name="csrf"\r\n\r\n${state.csrf}\r\n--b\r\ncontent-disposition: form-data; name="frame"; filename=""\r\ncontent-type: application/octet-stream\r\n\r\n\r\n--b--\r\n`;
      const empty = await http.request(state.next.face!, { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
      expect(empty.status).toBe(422);
      expect(empty.json()).toMatchObject({ error: 'no_frames' });
      const notAnImage = await http.postFrames(state.next.face!, { csrf: state.csrf }, [{ data: Buffer.from('%PDF-1.7 not a jpeg'), type: 'image/jpeg' }]);
      expect([400, 422]).toContain(notAnImage.status);
      expect(notAnImage.json()).toMatchObject({ error: 'bad_image' });
      const page = await http.postFrames(state.next.face!, { csrf: state.csrf }, [{ data: Buffer.from('junk'), type: 'image/jpeg' }], 'text/html');
      expect(page.text).toContain('data-error-code="bad_image"');
      expect(page.text).toContain('Try again');
    });
  });

  describe('uniform errors', () => {
    it('answers unknown pages and bad interactions with readable pages, never a stack trace', async () => {
      const http = new HttpClient(idp.url);
      const missing = await http.get('/nope', 'text/html');
      expect(missing.status).toBe(404);
      expect(missing.text).toContain('Page not found');
      const expired = await http.get('/interaction/not-a-real-uid', 'text/html');
      expect(expired.status).toBe(400);
      expect(expired.text).toContain('interaction_expired');
      for (const response of [missing, expired]) expect(response.text).not.toMatch(/at .+\.ts:\d+/);
    });

    it('answers the username step identically for existing and unknown usernames', async () => {
      const csrf = (await new HttpClient(idp.url).get('/signup')).json<{ csrf: string }>().csrf;
      expect(csrf).toBeTruthy();
      const a = await interaction();
      const b = await interaction();
      const known = await a.http.postForm(a.state.next.login!, { username: 'someone-known', csrf: a.state.csrf });
      const unknown = await b.http.postForm(b.state.next.login!, { username: 'nobody-known', csrf: b.state.csrf });
      expect([known.status, unknown.status]).toEqual([303, 303]);
      expect(new URL(known.location!).pathname.split('/').pop()).toBe(new URL(unknown.location!).pathname.split('/').pop());
    });
  });

  describe('operator-only pages', () => {
    it('the audit page needs the operator credentials and filters events', async () => {
      expect((await fetch(`${idp.url}/admin/audit`)).status).toBe(401);
      const wrong = await fetch(`${idp.url}/admin/audit`, { headers: { authorization: `Basic ${Buffer.from('operator:guess').toString('base64')}` } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toContain('Basic');
      const auth = { authorization: `Basic ${Buffer.from('operator:correct horse battery').toString('base64')}` };
      const page = await fetch(`${idp.url}/admin/audit?type=admin_login`, { headers: { ...auth, accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-type="admin_login"');
      const json = (await (await fetch(`${idp.url}/admin/audit?type=admin_login`, { headers: { ...auth, accept: 'application/json' } })).json()) as { events: Array<{ type: string; outcome: string }> };
      expect(json.events.every((event) => event.type === 'admin_login' && event.outcome === 'denied')).toBe(true);
    });

    it('locks operator logins after 5 wrong passwords: then even the right one is refused', async () => {
      const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`operator:${password}`).toString('base64')}` });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await fetch(`${idp.url}/admin/audit`, { headers: basic(`guess-${i}`) })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401]);
      expect((await fetch(`${idp.url}/admin/audit`, { headers: basic('correct horse battery') })).status).toBe(429);
    });

    it('metrics need the bearer token and count security events', async () => {
      expect((await fetch(`${idp.url}/metrics`)).status).toBe(401);
      const metrics = await (await fetch(`${idp.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } })).text();
      expect(metrics).toContain('faceid_security_events_total');
      expect(metrics).toContain('faceid_http_request_seconds');
      expect(metrics).toContain('faceid_face_step_seconds');
      expect(metrics).toMatch(/faceid_security_events_total\{type="admin_login",outcome="denied"\} \d+/);
    });
  });
});
