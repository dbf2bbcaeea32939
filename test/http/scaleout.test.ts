import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../support/db.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { REDIRECT_URI, authRequest, discover, exchange, signInOverHttp, signUpOverHttp, type InteractionState } from '../../support/signin.ts';

/**
 * The web tier is stateless: two IdP processes on one PostgreSQL behind a routing proxy serve
 * one sign-in (authorize on one, face and token on the other) and share sessions and limits.
 */
const skip = process.env.DATABASE_URL ? null : 'two IdP processes need a shared PostgreSQL (set DATABASE_URL)';
if (skip) console.warn(`[scale-out] skipping: ${skip}`);

describe.skipIf(skip !== null)('two IdP instances on one PostgreSQL', () => {
  let parts: PartsHandle;
  const instances: IdpHandle[] = [];
  const databases: Array<Awaited<ReturnType<typeof testDatabase>>> = [];
  let proxy: http.Server;
  let base = '';
  let config: oidc.Configuration;
  const served: Array<{ path: string; backend: number }> = [];
  let faceTurn = 0;

  /** Authorization requests go to instance 0, everything else to 1; face posts alternate. */
  const route = (path: string) => {
    if (path.startsWith('/auth')) return 0;
    if (/^\/interaction\/[^/]+\/face$/.test(path)) return (faceTurn += 1) % 2;
    return 1;
  };

  beforeAll(async () => {
    proxy = http.createServer((req, res) => {
      const backend = route(new URL(req.url!, 'http://x').pathname);
      served.push({ path: new URL(req.url!, 'http://x').pathname, backend });
      const target = new URL(instances[backend]!.url);
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (response) => {
        res.writeHead(response.statusCode!, response.headers);
        response.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    parts = await realParts({ workers: 2 });
    const dataDir = mkdtempSync(join(tmpdir(), 'faceid-scaleout-')); // shared demo secrets (cookie and sealing keys)
    databases.push(await testDatabase());
    databases.push(await testDatabase({ schema: databases[0]!.schema }));
    const started = await Promise.all(databases.map((database) => startIdp(parts.parts, { database, dataDir, env: { ISSUER: base } })));
    instances.push(...started);
    const { clientId, clientSecret } = await instances[1]!.app.services.clients.add({ name: 'Scale-out RP', redirectUris: [REDIRECT_URI], firstParty: true });
    config = await discover(base, clientId, clientSecret!);
    expect((await signUpOverHttp(base, 'kim', parts.enrollFrames)).status).toBe(303);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => proxy?.close(() => resolve()));
    for (const instance of instances) await instance.close();
    for (const database of databases.reverse()) await database.close();
    await parts?.close();
  });

  it('serves one sign-in across both: authorize on one, face and token on the other; the session is shared', async () => {
    served.length = 0;
    const browser = new HttpClient(base);
    const request = await authRequest(config);
    const { callback } = await signInOverHttp(browser, request, 'kim', parts.sameFrames);
    const tokens = await exchange(config, callback, request);
    expect(tokens.claims()!.amr).toEqual(['face']);
    expect(served.find((entry) => entry.path === '/auth')!.backend).toBe(0);
    expect(served.filter((entry) => entry.path === '/token').every((entry) => entry.backend === 1)).toBe(true);
    expect(new Set(served.map((entry) => entry.backend))).toEqual(new Set([0, 1]));
    // Single sign-on through instance 0 with the session made on instance 1.
    const again = await signInOverHttp(browser, await authRequest(config), 'kim', parts.sameFrames);
    expect(again.steps).toEqual([]);
  });

  it('shares attempt limits: 10 parallel wrong faces spread over both instances, exactly 5 evaluated', async () => {
    const steps = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const client = new HttpClient(base);
        const state = (await client.follow(await client.get((await authRequest(config)).url.href))).json<InteractionState>();
        const login = await client.postForm(state.next.login!, { username: 'kim', csrf: state.csrf });
        return { client, face: new URL(login.location!).pathname, csrf: state.csrf };
      }),
    );
    served.length = 0;
    const statuses = (await Promise.all(steps.map((step) => step.client.postFrames(step.face, { csrf: step.csrf }, parts.otherFrames)))).map((r) => r.status);
    expect(new Set(served.filter((entry) => entry.path.endsWith('/face')).map((entry) => entry.backend))).toEqual(new Set([0, 1]));
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(5);
  });
});
