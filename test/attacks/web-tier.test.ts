import sharp from 'sharp';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustodianClient } from '../../src/custodian/index.ts';
import { HttpClient, type Response } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { accountSignIn, authRequest, exchange, registerClient, signInOverHttp, signUpOverHttp, type Frame, type InteractionState } from '../../support/signin.ts';

/**
 * Findings 4, 6, 7, 8, 9 and 10 of the 2026-12-01 review, each performed as the review did, over
 * HTTP and on the database, against the real IdP (oidc-provider, the face engine, the custodian
 * process).
 */
describe('attacks on the web tier and its database', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  /** Every custodian operation the IdP performed, in order. */
  const custodianCalls: string[] = [];
  /** Every SQL statement the IdP sent, with its parameters left out. */
  const queries: string[] = [];

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    const real = parts.parts.custodian;
    const recorded = new Proxy(real, {
      get(target, op: keyof CustodianClient) {
        const value = target[op];
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          custodianCalls.push(String(op));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    idp = await startIdp({ ...parts.parts, custodian: recorded, rates: { facePerMinute: 1000, signupPerHour: 1000, totpPerMinute: 1000 } }, { env: { TRUST_PROXY: '1' } });
    idp.database.knex.on('query', (query: { sql: string }) => queries.push(query.sql));
    config = (await registerClient(idp, { name: 'Attack RP', firstParty: true })).config;
    for (const [username, frames] of [['alice', parts.enrollFrames], ['bob', parts.otherEnrollFrames], ['owner', parts.enrollFrames], ['taken', parts.enrollFrames], ['carol', parts.enrollFrames], ['dave', parts.enrollFrames]] as const) {
      const response = await signUpOverHttp(idp.url, username, frames);
      expect(response.status, `${username}: ${response.text}`).toBe(303);
    }
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  let ips = 0;
  const client = () => new HttpClient(idp.url, { 'x-forwarded-for': `10.60.${Math.floor(ips / 250)}.${(ips += 1) % 250}` });
  const signIn = async (username: string, frames: Frame[], http = client()) => signInOverHttp(http, await authRequest(config), username, frames);
  const outcome = (result: { last: Response; callback: URL }) => (result.callback.searchParams.get('code') ? 'code' : `${result.last.status} ${result.last.json<{ error?: string }>().error ?? ''}`);
  const accountId = async (username: string) => (await idp.app.services.accounts.findByUsername(username))!.id;

  describe('finding 4: a template copied into another account\'s row', () => {
    it('does not sign the copier\'s face in as that account, and raises an audited alert', async () => {
      // Positive controls: each face signs in as its own account.
      expect(outcome(await signIn('alice', parts.sameFrames))).toBe('code');
      expect(outcome(await signIn('bob', parts.otherFrames))).toBe('code');
      const db = idp.database.knex;
      const [aliceId, bobId] = [await accountId('alice'), await accountId('bob')];
      const alices = await db('face_templates').where({ account_id: aliceId }).first();
      const bobs = await db('face_templates').where({ account_id: bobId }).first();
      // The whole row (ciphertext, key id, MAC), then the ciphertext and key id under Bob's own MAC.
      for (const columns of [{ ciphertext: alices.ciphertext, key_id: alices.key_id, mac: alices.mac }, { ciphertext: alices.ciphertext, key_id: alices.key_id, mac: bobs.mac }]) {
        await db('face_templates').where({ account_id: bobId }).update(columns);
        expect(outcome(await signIn('bob', parts.sameFrames))).toBe('401 face_not_matched');
      }
      const alerts = await db('audit_events').where({ type: 'template_tampered', account_id: bobId });
      expect(alerts.length).toBe(2);
      // Restored, Bob signs in again: nothing else was broken.
      await db('face_templates').where({ account_id: bobId }).update({ ciphertext: bobs.ciphertext, key_id: bobs.key_id, mac: bobs.mac });
      expect(outcome(await signIn('bob', parts.otherFrames))).toBe('code');
    });
  });

  describe('finding 6: a stranger locking the owner out', () => {
    it('five wrong faces lock strangers out; the owner\'s own browser still signs in', async () => {
      const ownersBrowser = client();
      expect(outcome(await signIn('owner', parts.sameFrames, ownersBrowser))).toBe('code');
      const stranger = [];
      for (let i = 0; i < 7; i += 1) stranger.push(outcome(await signIn('owner', parts.otherFrames)));
      // NIST SP 800-63B-4: five guesses, then a lock (and it keeps growing).
      expect(stranger).toEqual(['401 face_not_matched', '401 face_not_matched', '401 face_not_matched', '401 face_not_matched', '401 face_not_matched', '429 too_many_attempts', '429 too_many_attempts']);
      // The owner, from the browser they signed in with before: not locked.
      expect(outcome(await signIn('owner', parts.sameFrames, ownersBrowser))).toBe('code');
      // A browser the owner never used shares the strangers' budget (README: "Abuse limits").
      expect(outcome(await signIn('owner', parts.sameFrames))).toBe('429 too_many_attempts');
    });
  });

  describe('finding 7: sign-up as a username oracle', () => {
    const post = async (username: string, frames: Frame[]) => {
      const response = await signUpOverHttp(idp.url, username, frames, { headers: { 'x-forwarded-for': `10.61.0.${(ips += 1) % 250}` } });
      return `${response.status} ${response.json<{ error?: string }>().error ?? ''}`;
    };
    it('answers a taken and a free username the same until a real enrollment has been done', async () => {
      const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 90, b: 100 } } }).jpeg().toBuffer();
      const cases: Frame[][] = [[], [{ data: Buffer.from('not an image'), type: 'image/jpeg' }], [{ data: blank }, { data: blank }, { data: blank }], parts.otherFrames];
      for (const frames of cases) {
        const taken = await post('taken', frames);
        const free = await post(`free-${ips}`, frames);
        expect(taken).toBe(free);
        expect(taken).not.toContain('username_taken');
      }
      // Only a real enrollment of a real face finds out: 409 (and it costs a sign-up of the IP's budget).
      expect(await post('taken', parts.enrollFrames)).toBe('409 username_taken');
    });
  });

  describe('finding 8: the face step\'s work for existing and unknown usernames', () => {
    it('is the same: the same SQL statements and the same custodian round trips, decoy included', async () => {
      const trace = async (username: string) => {
        const http = client();
        const request = await authRequest(config);
        let response = await http.follow(await http.get(request.url.href));
        const state = response.json<InteractionState>();
        response = await http.postForm(state.next.login!, { username, csrf: state.csrf });
        const face = new URL(response.location!).pathname;
        custodianCalls.length = 0;
        queries.length = 0;
        response = await http.postFrames(face, { csrf: state.csrf }, parts.otherFrames);
        expect(response.status).toBe(401);
        return { custodian: [...custodianCalls], sql: queries.filter((sql) => !/oidc_payloads/.test(sql)) };
      };
      const existing = await trace('carol');
      const unknown = await trace('nobody-by-that-name');
      expect(existing.custodian).toEqual(['ticket', 'judge']);
      expect(unknown.custodian).toEqual(['decoy', 'judge']);
      expect(unknown.sql).toEqual(existing.sql);
    });
  });

  describe('finding 9: tokens read out of the database', () => {
    it('are not there: rows are keyed by keyed hashes and the ids do not work as tokens', async () => {
      const http = client();
      const request = await authRequest(config, { scope: 'openid offline_access', prompt: 'consent' });
      const result = await signInOverHttp(http, request, 'dave', parts.sameFrames);
      const tokens = await exchange(config, result.callback, request);
      expect(tokens.access_token).toBeTruthy();
      expect(tokens.refresh_token).toBeTruthy();
      const rows = (await idp.database.knex('oidc_payloads').select('model', 'id', 'payload')) as Array<{ model: string; id: string; payload: unknown }>;
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(tokens.access_token);
      expect(dump).not.toContain(tokens.refresh_token!);
      for (const row of rows.filter((r) => ['AccessToken', 'RefreshToken'].includes(r.model))) {
        const userinfo = await fetch(new URL('/me', idp.url), { headers: { authorization: `Bearer ${row.id}` } });
        expect(userinfo.status).toBe(401);
        await expect(oidc.refreshTokenGrant(config, row.id)).rejects.toMatchObject({ error: 'invalid_grant' });
      }
      // The real ones work.
      expect((await fetch(new URL('/me', idp.url), { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);
    });
  });

  describe('finding 10: re-enrollment on the account page', () => {
    const accountSession = (username: string, frames: Frame[]) => accountSignIn(client(), username, frames);

    it('is limited per account (3 a day), each one also registering a key at the custodian', async () => {
      const http = await accountSession('alice', parts.sameFrames);
      const csrf = (await http.get('/account')).json<{ csrf: string }>().csrf;
      const statuses: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await http.postFrames('/account/face', { csrf }, parts.enrollFrames);
        statuses.push(`${response.status}${response.status === 303 ? '' : ` ${response.json<{ error?: string }>().error}`}`);
      }
      expect(statuses).toEqual(['303', '303', '303', '429 rate_limited']);
      expect(outcome(await signIn('alice', parts.sameFrames))).toBe('code');
    });
  });
});
