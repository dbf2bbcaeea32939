import type * as oidc from 'openid-client';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClock } from '../../support/clock.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { authRequest, registerClient, signUpOverHttp, type InteractionState } from '../../support/signin.ts';

/**
 * Brute force and oracle limits: failed attempts counted atomically in the database (parallel
 * attempts cannot slip past), lockouts that double, per-IP limits, TOTP and sign-up limits.
 * Lockouts here start at 60 s, and the test moves the IdP's clock to see them end (no sleeping).
 */
describe('abuse resistance', () => {
  const clock = createTestClock();
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;

  const enroll = (username: string, ip: string) => signUpOverHttp(idp.url, username, parts.enrollFrames, { headers: { 'x-forwarded-for': ip } });

  /** A fresh interaction at its face step for `username`, from client address `ip`. */
  const atFaceStep = async (username: string, ip: string) => {
    const http = new HttpClient(idp.url, { 'x-forwarded-for': ip });
    const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
    const login = await http.postForm(state.next.login!, { username, csrf: state.csrf });
    expect(login.status, login.text).toBe(303);
    return { http, face: new URL(login.location!).pathname, csrf: state.csrf };
  };

  const deniedCount = async (username: string) => {
    const account = await idp.app.services.accounts.findByUsername(username);
    return (await idp.database.knex('audit_events').where({ type: 'signin', outcome: 'denied', account_id: account!.id })).length;
  };

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp(
      {
        ...parts.parts,
        clock,
        rates: { facePerMinute: 1000, totpPerMinute: 1000, signupPerHour: 3 },
        policies: {
          face: { maxFailures: 5, baseLockMs: 60_000, maxLockMs: 20 * 60_000 },
          faceNewDevice: { maxFailures: 5, baseLockMs: 60_000, maxLockMs: 20 * 60_000 },
          totp: { maxFailures: 5, baseLockMs: 60_000, maxLockMs: 20 * 60_000 },
          ip: { maxFailures: 12, baseLockMs: 60_000, maxLockMs: 20 * 60_000 },
        },
      },
      { env: { TRUST_PROXY: '1' } },
    );
    config = (await registerClient(idp, { name: 'Abuse RP', firstParty: true })).config;
    for (const [username, ip] of [['victim', '10.0.1.1'], ['target', '10.0.1.2'], ['totpuser', '10.0.1.3']] as const) {
      expect((await enroll(username, ip)).status).toBe(303);
    }
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  it('20 concurrent wrong faces: exactly 5 are evaluated, the rest refused unevaluated; the lock is audited', async () => {
    const steps = await Promise.all(Array.from({ length: 20 }, (_, i) => atFaceStep('victim', `10.0.2.${i}`)));
    const responses = await Promise.all(steps.map((step) => step.http.postFrames(step.face, { csrf: step.csrf }, parts.otherFrames)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
    expect(responses.find((response) => response.status === 429)!.json()).toMatchObject({ error: 'too_many_attempts' });
    expect(await deniedCount('victim')).toBe(5);
    const lockouts = await idp.database.knex('audit_events').where({ type: 'lockout', outcome: 'face' });
    expect(lockouts).toHaveLength(1);

    // While locked even the right face is not evaluated.
    const locked = await atFaceStep('victim', '10.0.3.1');
    expect((await locked.http.postFrames(locked.face, { csrf: locked.csrf }, parts.sameFrames)).status).toBe(429);
    expect(await deniedCount('victim')).toBe(5);
  });

  it('after the lock: one more try; a failure locks again for twice as long; success resets', async () => {
    clock.advance(61_000);
    const retry = await atFaceStep('victim', '10.0.3.2');
    const denied = await retry.http.postFrames(retry.face, { csrf: retry.csrf }, parts.otherFrames);
    expect(denied.status).toBe(401);
    expect(denied.json<{ message: string }>().message).toMatch(/wait 120 seconds/);
    const blocked = await atFaceStep('victim', '10.0.3.3');
    expect((await blocked.http.postFrames(blocked.face, { csrf: blocked.csrf }, parts.sameFrames)).status).toBe(429);

    clock.advance(121_000);
    const genuine = await atFaceStep('victim', '10.0.3.4');
    expect((await genuine.http.postFrames(genuine.face, { csrf: genuine.csrf }, parts.sameFrames)).status).toBe(303);
    const row = await idp.database.knex('auth_throttle').where({ key: 'face:victim' }).first();
    expect(row).toMatchObject({ failures: 0, lockouts: 0, locked_until: null });
  });

  it('an unknown username locks the same way (no hint that it does not exist)', async () => {
    const results: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const step = await atFaceStep('nobody-at-all', `10.0.4.${i}`);
      results.push((await step.http.postFrames(step.face, { csrf: step.csrf }, parts.otherFrames)).status);
    }
    expect(results).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('limits failures per client address across usernames, without affecting other addresses', async () => {
    const ip = '10.0.5.5';
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      const step = await atFaceStep(`sprayed-${i}`, ip);
      statuses.push((await step.http.postFrames(step.face, { csrf: step.csrf }, parts.otherFrames)).status);
    }
    expect(statuses.slice(0, 12).every((status) => status === 401)).toBe(true);
    expect(statuses[12]).toBe(429);
    const elsewhere = await atFaceStep('target', '10.0.5.6');
    expect((await elsewhere.http.postFrames(elsewhere.face, { csrf: elsewhere.csrf }, parts.sameFrames)).status).toBe(303);
  });

  it('keys client addresses on what our proxy appended, not on what the client wrote (X-Forwarded-For)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      // A fresh made-up address in front every time; the proxy's entry (rightmost) stays the same.
      const step = await atFaceStep(`spoofed-${i}`, `6.6.${i}.6, 10.0.8.8`);
      statuses.push((await step.http.postFrames(step.face, { csrf: step.csrf }, parts.otherFrames)).status);
    }
    expect(statuses[12]).toBe(429);
  });

  it('locks the second factor after 5 wrong codes', async () => {
    const account = await idp.app.services.accounts.findByUsername('totpuser');
    const { secret } = await idp.app.services.totp.begin(account!.id, 'totpuser');
    await idp.app.services.totp.confirm(account!.id, await generate({ secret, epoch: Math.floor(clock.now() / 1000) }));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const step = await atFaceStep('totpuser', `10.0.6.${i}`);
      const face = await step.http.follow(await step.http.postFrames(step.face, { csrf: step.csrf }, parts.sameFrames));
      const state = face.json<InteractionState>();
      expect(state.step).toBe('totp');
      statuses.push((await step.http.postForm(state.next.totp!, { code: '000000', csrf: state.csrf })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(await idp.database.knex('audit_events').where({ type: 'lockout', outcome: 'totp' })).toHaveLength(1);
  });

  it('limits sign-ups per client address', async () => {
    const ip = '10.0.7.7';
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await enroll(`newcomer${i}`, ip)).status);
    expect(statuses).toEqual([303, 303, 303, 429]);
    expect((await enroll('newcomer9', '10.0.7.8')).status).toBe(303);
  });
});
