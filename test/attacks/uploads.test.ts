import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../support/http-client.ts';
import { startIdpProcess, type IdpProcess } from '../../support/idp-process.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { multipart, rawRequest } from '../../support/raw-http.ts';
import { authRequest, registerClient, type InteractionState } from '../../support/signin.ts';
import type * as oidc from 'openid-client';

/**
 * Finding 1 of the 2026-12-01 review, against the IdP as its own process: a 101-byte request whose
 * body ends inside a frame part made the file stream emit an unhandled 'error' and the process
 * exit; 16 parallel 32 MB uploads with a bad CSRF token raised its memory by 430 MB before the 403.
 */
const BOUNDARY = 'x';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/** The review's request: the headers of a frame part, a few bytes, no closing boundary. */
const truncatedFramePart = (prefix: Buffer = Buffer.alloc(0)) =>
  Buffer.concat([prefix, Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="frame"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff`, 'latin1')]);

describe('finding 1: malformed uploads against the IdP process', () => {
  let idp: IdpProcess;
  /** A browser at the face step of a sign-in, and one on the sign-up page, with their tokens. */
  let face: { cookie: string; csrf: string; path: string };
  let signup: { cookie: string; csrf: string };
  let interactionSignup: { cookie: string; csrf: string; path: string };

  beforeAll(async () => {
    // Behind a "proxy", so each request can come from its own client address (per-IP rates
    // would otherwise refuse these uploads before their bodies, which is not what is tested).
    idp = await startIdpProcess({ HTTP_REQUEST_TIMEOUT_MS: '3000', TRUST_PROXY: '1' });
    const start = async () => {
      const http = new HttpClient(idp.url);
      const url = new URL('/auth', idp.url);
      url.search = new URLSearchParams({ client_id: 'sample-rp', response_type: 'code', scope: 'openid', redirect_uri: 'http://rp.example.test/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's', nonce: 'n' }).toString();
      const state = (await http.follow(await http.get(url.href))).json<InteractionState>();
      return { http, state };
    };
    const a = await start();
    const login = await a.http.postForm(a.state.next.login!, { username: 'someone', csrf: a.state.csrf });
    expect(login.status).toBe(303);
    face = { cookie: a.http.jar.header(new URL(login.location!).pathname), csrf: a.state.csrf, path: new URL(login.location!).pathname };
    const b = await start();
    interactionSignup = { cookie: b.http.jar.header(new URL(b.state.next.signup!, idp.url).pathname), csrf: b.state.csrf, path: new URL(b.state.next.signup!, idp.url).pathname };
    const c = new HttpClient(idp.url);
    const token = (await c.get('/signup')).json<{ csrf: string }>().csrf;
    signup = { cookie: c.jar.header('/signup'), csrf: token };
  });

  afterAll(async () => {
    await idp?.stop();
  });

  let clients = 0;
  const from = () => ({ 'X-Forwarded-For': `10.77.${Math.floor(clients / 250)}.${(clients += 1) % 250}` });
  const csrfPart = (csrf: string) => multipart(BOUNDARY, [{ name: 'csrf', value: csrf }], { close: false });
  const healthy = async () => (await fetch(`${idp.url}/healthz`)).status === 200 && idp.alive();

  it('the review\'s 101-byte request: refused with a 4xx, and the process keeps serving', async () => {
    const body = truncatedFramePart();
    expect(body.length).toBeLessThan(110);
    const response = await rawRequest(idp.url, { path: '/signup', headers: { 'Content-Type': MULTIPART, 'Content-Length': String(body.length), Accept: 'application/json', ...from() }, chunks: [body] });
    // A frame before the CSRF token is refused at once (403); it never reaches a parser error.
    expect(response.status).toBe(403);
    expect(await healthy()).toBe(true);
  });

  it('a body that ends inside a frame part, after a valid token, on every upload route: 400, and the process keeps serving', async () => {
    const targets = [
      { path: '/signup', ...signup },
      { ...interactionSignup },
      { ...face },
      { path: '/account/face', cookie: signup.cookie, csrf: signup.csrf },
    ];
    for (const target of targets) {
      const body = truncatedFramePart(csrfPart(target.csrf));
      const response = await rawRequest(idp.url, { path: target.path, headers: { 'Content-Type': MULTIPART, 'Content-Length': String(body.length), Cookie: target.cookie, Accept: 'application/json', ...from() }, chunks: [body] });
      // The account page wants a fresh sign-in first (401, before the body is read).
      expect([400, 401], `${target.path}: ${response.text.slice(0, 300)}`).toContain(response.status);
      if (target.path !== '/account/face') expect(response.text).toContain('upload_interrupted');
      expect(await healthy()).toBe(true);
    }
  });

  it('aborted uploads (the client goes away mid-part) and malformed ones do not hurt the process', async () => {
    const variants: Array<{ headers: Record<string, string>; chunks: Buffer[]; abortAfter?: number }> = [
      // Aborted after the first half of a frame.
      { headers: { 'Content-Type': MULTIPART, 'Content-Length': '100000', Cookie: signup.cookie }, chunks: [truncatedFramePart(csrfPart(signup.csrf)), Buffer.alloc(5000, 1)], abortAfter: 1 },
      // A boundary that never appears, a missing boundary, headers of a part that never end.
      { headers: { 'Content-Type': 'multipart/form-data; boundary=zzz', 'Content-Length': '40', Cookie: signup.cookie }, chunks: [Buffer.alloc(40, 0x41)] },
      { headers: { 'Content-Type': 'multipart/form-data', 'Content-Length': '10' }, chunks: [Buffer.from('0123456789')] },
      { headers: { 'Content-Type': MULTIPART, 'Content-Length': '60', Cookie: signup.cookie }, chunks: [Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\nX: ${'y'.repeat(20)}`)] },
      // Chunked, ending early.
      { headers: { 'Content-Type': MULTIPART, 'Transfer-Encoding': 'chunked', Cookie: signup.cookie }, chunks: [Buffer.from('20\r\n--x\r\nContent-Disposition: form-d\r\n')], abortAfter: 1 },
    ];
    for (const variant of variants) {
      const response = await rawRequest(idp.url, { path: '/signup', ...variant, headers: { ...variant.headers, Accept: 'application/json', ...from() } });
      if (response.status !== undefined) expect(response.status).toBeLessThan(500);
      expect(await healthy()).toBe(true);
    }
  });

  it('a slow client (a byte every 100 ms) is cut off with 408 at the request timeout, and the process keeps serving', async () => {
    const body = Buffer.concat([csrfPart(signup.csrf), Buffer.alloc(200, 0x41)]);
    const response = await rawRequest(idp.url, {
      path: '/signup',
      headers: { 'Content-Type': MULTIPART, 'Content-Length': String(body.length), Cookie: signup.cookie, ...from() },
      chunks: [...body].map((byte) => Buffer.from([byte])),
      delayMs: 100,
    });
    expect(response.closed).toBe(true);
    expect(response.status).toBe(408);
    expect(response.sentBytes).toBeLessThan(body.length);
    expect(await healthy()).toBe(true);
  });

  it('a client that reads only after sending more still gets the refusal: the close lingers instead of resetting', async () => {
    // A browser keeps writing its upload before it reads. Closing a socket with unread data sends
    // a TCP reset, and the reset makes the client's kernel drop the 403 it has not read yet.
    const head = Buffer.concat([csrfPart('forged-token'), Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="frame"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`)]);
    const body = Buffer.concat([head, Buffer.alloc(512 * 1024, 0x41)]);
    const received = await new Promise<string>((resolve) => {
      const url = new URL(idp.url);
      const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
        socket.pause(); // read nothing for now
        socket.write([`POST /signup HTTP/1.1`, `Host: ${url.host}`, `Content-Type: ${MULTIPART}`, `Content-Length: ${body.length + 8 * 1024 * 1024}`, `Cookie: ${signup.cookie}`, 'Accept: application/json', ...Object.entries(from()).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
        socket.write(body);
        setTimeout(() => {
          socket.write(Buffer.alloc(256 * 1024, 0x41)); // still sending, then it reads
          setTimeout(() => socket.resume(), 200);
        }, 500);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
    });
    expect(received).toMatch(/^HTTP\/1\.1 403/);
    expect(received).toContain('csrf_invalid');
    expect(await healthy()).toBe(true);
  });

  it('a forged token is refused as soon as the first part has arrived: 16 parallel 32 MB uploads are not buffered', async () => {
    const before = await idp.rssBytes();
    const big = Buffer.alloc(64 * 1024, 0x41);
    const upload = () => {
      const head = Buffer.concat([csrfPart('forged-token'), Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="frame"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`)]);
      const chunks = [head, ...Array.from({ length: 512 }, () => big)];
      return rawRequest(idp.url, { path: '/signup', headers: { 'Content-Type': MULTIPART, 'Content-Length': String(chunks.reduce((n, c) => n + c.length, 0)), Cookie: signup.cookie, Accept: 'application/json', ...from() }, chunks });
    };
    const responses = await Promise.all(Array.from({ length: 16 }, upload));
    for (const response of responses) {
      expect(response.status).toBe(403);
      expect(response.text).toContain('csrf_invalid');
      // The server stopped reading long before 32 MB arrived.
      expect(response.sentBytes).toBeLessThan(16 * 1024 * 1024);
    }
    const grown = (await idp.rssBytes()) - before;
    expect(grown).toBeLessThan(100 * 1024 * 1024);
    expect(await healthy()).toBe(true);
  });
});

describe('finding 1: the cheap checks come before any upload is read', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;

  beforeAll(async () => {
    parts = await realParts();
    idp = await startIdp({ ...parts.parts, rates: { facePerMinute: 2, signupPerHour: 2 } });
    config = (await registerClient(idp, { name: 'Upload RP' })).config;
  });
  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  it('an interaction that is not this browser\'s, and a client over its rate, are refused before the body is sent', async () => {
    const http = new HttpClient(idp.url);
    const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
    const login = await http.postForm(state.next.login!, { username: 'someone', csrf: state.csrf });
    const path = new URL(login.location!).pathname;
    const cookie = http.jar.header(path);
    const body = Buffer.concat([multipart(BOUNDARY, [{ name: 'csrf', value: state.csrf }], { close: false }), Buffer.alloc(1024 * 1024, 0x41)]);
    const send = (headers: Record<string, string>) => rawRequest(idp.url, { path, headers: { 'Content-Type': MULTIPART, 'Content-Length': String(body.length), Accept: 'application/json', ...headers }, chunks: [Buffer.alloc(0), body], awaitResponseBefore: 1 });
    // No cookie: not this browser's interaction.
    const stranger = await send({});
    expect(stranger.status).toBe(400);
    expect(stranger.sentBytes).toBe(0);
    // Over the per-IP rate of face submissions (2 a minute here).
    for (let i = 0; i < 2; i += 1) await http.postFrames(path, { csrf: state.csrf }, parts.otherFrames);
    const limited = await send({ Cookie: cookie });
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('rate_limited');
    expect(limited.sentBytes).toBe(0);
  });
});
