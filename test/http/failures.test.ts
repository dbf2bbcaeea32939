import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../support/db.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdpProcess } from '../../support/idp-process.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { people, realParts, type PartsHandle } from '../../support/parts.ts';
import { authRequest, registerClient, signInOverHttp, signUpOverHttp as signUp, type InteractionState } from '../../support/signin.ts';
import { multipart, rawRequest } from '../../support/raw-http.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';

/**
 * Failure behaviour: a dead or frozen custodian and an unreachable database give a clear 503
 * (never an acceptance), readiness says so, and everything recovers without a restart; a
 * shutdown drains the requests in flight.
 */

describe('when the key custodian fails', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;

  beforeAll(async () => {
    parts = await realParts();
    idp = await startIdp(parts.parts);
    config = (await registerClient(idp, { name: 'RP', firstParty: true })).config;
    expect((await signUp(idp.url, 'frank', parts.enrollFrames)).status).toBe(303);
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  const attempt = async (accept?: string) => {
    const http = new HttpClient(idp.url);
    const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
    const login = await http.postForm(state.next.login!, { username: 'frank', csrf: state.csrf });
    return http.postFrames(new URL(login.location!).pathname, { csrf: state.csrf }, parts.sameFrames, accept);
  };

  it('dead: denial with 503 and a readable page, readiness reports it, and it recovers without a restart', async () => {
    expect((await attempt()).status).toBe(303);
    await parts.killCustodian();

    const denied = await attempt();
    expect(denied.status).toBe(503);
    expect(denied.json()).toMatchObject({ error: 'custodian_unavailable' });
    expect(denied.headers.get('retry-after')).toBeTruthy();
    const page = await attempt('text/html');
    expect(page.status).toBe(503);
    expect(page.text).toContain('Face sign-in unavailable');
    expect(page.text).toContain('Please try again in a moment');
    expect(page.text).toContain('data-error-code="custodian_unavailable"');
    const ready = await fetch(`${idp.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { database: true, custodian: false } });
    expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
    // Not evaluated, so not counted as a failed attempt.
    const row = await idp.database.knex('auth_throttle').where({ key: 'face:frank' }).first();
    expect(row?.failures ?? 0).toBe(0);

    await parts.restartCustodian();
    expect((await fetch(`${idp.url}/readyz`)).status).toBe(200);
    expect((await attempt()).status).toBe(303);
  });

  it('frozen (slow): the call times out into a denial, then recovers', async () => {
    process.kill(parts.custodian.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const denied = await attempt();
      expect(denied.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      process.kill(parts.custodian.pid, 'SIGCONT');
    }
    expect((await attempt()).status).toBe(303);
  });

  it('a sign-in never succeeds without the custodian\'s answer', async () => {
    await parts.killCustodian();
    try {
      const request = await authRequest(config);
      const { last, callback } = await signInOverHttp(new HttpClient(idp.url), request, 'frank', parts.sameFrames);
      expect(last.status).toBe(503);
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      await parts.restartCustodian();
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)('when PostgreSQL is unreachable', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let proxy: TcpProxy;
  let database: Awaited<ReturnType<typeof testDatabase>>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    const real = new URL(process.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const viaProxy = new URL(real.href);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    database = await testDatabase({ url: viaProxy.href });
    parts = await realParts();
    idp = await startIdp(parts.parts, { database });
    config = (await registerClient(idp, { name: 'RP', firstParty: true })).config;
    expect((await signUp(idp.url, 'grace', parts.enrollFrames)).status).toBe(303);
  });

  afterAll(async () => {
    await proxy?.restore();
    await idp?.close();
    await database?.close();
    await proxy?.close();
    await parts?.close();
  });

  it('answers 503 everywhere while it is down, writes nothing half-done, and recovers when it returns', async () => {
    // Start a sign-in while the database is up, then cut it before the face step.
    const http = new HttpClient(idp.url);
    const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
    await proxy.cut();

    const face = await http.postFrames(state.next.face!, { csrf: state.csrf }, parts.sameFrames);
    expect(face.status).toBe(503);
    const authorize = await new HttpClient(idp.url).get((await authRequest(config)).url.href, 'text/html');
    expect(authorize.status).toBe(503);
    expect(authorize.text).toContain('Temporarily unavailable');
    const token = await fetch(`${idp.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${config.clientMetadata().client_id}:${config.clientMetadata().client_secret}`).toString('base64')}` }, body: 'grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&code_verifier=' + 'a'.repeat(43) });
    expect(token.status).toBe(503);
    const enrollment = await signUp(idp.url, 'henry', parts.enrollFrames);
    expect(enrollment.status).toBe(503);
    const ready = await fetch(`${idp.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { database: false } });

    await proxy.restore();
    await expect.poll(async () => (await fetch(`${idp.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
    const { callback } = await signInOverHttp(new HttpClient(idp.url), await authRequest(config), 'grace', parts.sameFrames);
    expect(callback.searchParams.get('code')).toBeTruthy();
    // No account without its template (the enrollment during the cut left nothing behind).
    const orphans = await database.knex('accounts').leftJoin('face_templates', 'accounts.id', 'face_templates.account_id').whereNull('face_templates.account_id');
    expect(orphans).toEqual([]);
    expect(await idp.app.services.accounts.findByUsername('henry')).toBeUndefined();
  });

  it('a database that stops answering without closing connections gives 503 in seconds, not a hang', async () => {
    proxy.stall();
    try {
      let started = Date.now();
      const ready = await fetch(`${idp.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5_000);
      started = Date.now();
      const authorize = await new HttpClient(idp.url).get((await authRequest(config)).url.href, 'application/json');
      expect(authorize.status).toBe(503);
      expect(authorize.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      proxy.resume();
    }
    await expect.poll(async () => (await fetch(`${idp.url}/readyz`)).status, { timeout: 20_000 }).toBe(200);
    const { callback } = await signInOverHttp(new HttpClient(idp.url), await authRequest(config), 'grace', parts.sameFrames);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('graceful shutdown of the IdP process', () => {
  it('finishes the request in flight, then exits cleanly', async () => {
    const idp = await startIdpProcess();
    try {
      const http = new HttpClient(idp.url);
      const csrf = (await http.get('/signup')).json<{ csrf: string }>().csrf;
      const who = await people();
      const boundary = 'shutdown';
      const head = multipart(boundary, [{ name: 'csrf', value: csrf }, { name: 'username', value: 'ivy' }, { name: 'email', value: 'ivy@example.com' }, { name: 'consent', value: 'yes' }], { close: false });
      const rest = multipart(boundary, who.a.enroll.map((data) => ({ name: 'frame', file: { data, type: 'image/jpeg' } })));
      const response = await rawRequest(idp.url, {
        path: '/signup',
        headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(head.length + rest.length), Cookie: http.jar.header('/signup'), Accept: 'application/json' },
        chunks: [head, rest],
        // Half the sign-up is on the wire when the process is told to stop; the rest follows
        // once it has begun draining (it logs so).
        beforeChunk: async (k) => {
          if (k !== 1) return;
          idp.child.kill('SIGTERM');
          await expect.poll(() => idp.stdout(), { timeout: 10_000, interval: 20 }).toContain('shutting down');
        },
      });
      expect(response.status, idp.stderr()).toBe(303);
      expect(await idp.exited).toBe(0);
      expect(idp.stdout()).toContain('"msg":"stopped"');
      await expect(fetch(`${idp.url}/healthz`)).rejects.toThrow();
    } finally {
      await idp.stop();
    }
  });
});
