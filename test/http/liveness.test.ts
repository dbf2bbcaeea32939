import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import path from 'node:path';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMR_PAD } from '../../src/policy/index.ts';
import type { Action } from '../../src/liveness/index.ts';
import { createTestClock } from '../../support/clock.ts';
import { facesDir, facesRequirement } from '../../support/faces.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { printBurst, ramp } from '../../support/pad.ts';
import { accountSignIn, authRequest, exchange, postBurst, registerClient, signInOverHttp, signUpOverHttp, type Frame, type InteractionState } from '../../support/signin.ts';

/**
 * The face step with presentation-attack detection (LIVENESS=on), over the documented HTTP
 * contract, through the real parts: a genuine burst (real head turns, video/head-motion-1)
 * answering a challenge the test fixes through the factory's generator signs in with the PAD amr;
 * a replayed burst, a reused or foreign challenge, missing times, and prints are refused.
 */
const faces = facesRequirement();

describe.skipIf(!faces.available)('face sign-in with presentation-attack detection (HTTP)', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let config: oidc.Configuration;
  let actions: Action[] = ['turn_right', 'turn_left'];
  // Bursts are "filmed" by moving the IdP's clock by their span, not by waiting (support/clock.ts).
  const clock = createTestClock();
  const clip = path.join(facesDir() ?? '', 'video', 'head-motion-1');
  const frame = (n: number): Frame => ({ data: new Uint8Array(readFileSync(path.join(clip, `${String(n).padStart(3, '0')}.jpg`))) });
  /** Frames from..to of the clip (15 fps), every `step`-th, with their capture times. */
  const burst = (from: number, to: number, step = 2) => {
    const idx: number[] = [];
    for (let f = from; f <= to; f += step) idx.push(f);
    return { frames: idx.map(frame), times: idx.map((f) => Math.round(((f - from) * 1000) / 15)), clock };
  };
  /** The same frames re-encoded (other bytes, same pictures): what the replay guard cannot see, so other checks must. */
  const reencoded = async (frames: Frame[], quality: number): Promise<Frame[]> =>
    Promise.all(frames.map(async (f) => ({ data: new Uint8Array(await sharp(f.data).jpeg({ quality }).toBuffer()) })));

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp({ ...parts.parts, clock, liveness: { generate: () => [...actions] } }, { env: { LIVENESS: 'on' } });
    config = (await registerClient(idp, { name: 'RP', firstParty: true })).config;
    // The performer signs up with the camera check too (a photo cannot enroll a face): single
    // pictures are refused, a burst of his turns (re-encoded: other bytes than the sign-ins below) enrolls.
    const photos = await signUpOverHttp(idp.url, 'performer', [86, 87, 88, 89, 90].map(frame), { burst: { times: [0, 200, 400, 600, 800], clock } });
    expect(photos.status).toBe(400);
    const enrollment = burst(58, 100);
    const signup = await signUpOverHttp(idp.url, 'performer', await reencoded(enrollment.frames, 80), { burst: enrollment });
    expect(signup.status, signup.text).toBe(303);
  }, 300_000);

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  /** authorize -> login -> the face step's path and CSRF token. */
  const faceStep = async (http: HttpClient) => {
    const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
    const login = await http.postForm(state.next.login!, { username: 'performer', csrf: state.csrf });
    expect(login.status).toBe(303);
    const facePath = new URL(login.location!).pathname;
    const page = (await http.get(facePath)).json<InteractionState & { liveness: boolean }>();
    expect(page.liveness).toBe(true);
    expect(page.next.challenge).toBe(`${facePath}/challenge`);
    return { facePath, csrf: state.csrf };
  };

  it('signs in with a genuine burst; the ID token says PAD was performed, and discovery lists it', async () => {
    actions = ['turn_right', 'turn_left'];
    const request = await authRequest(config);
    const { frames, times } = burst(58, 100);
    const { callback } = await signInOverHttp(new HttpClient(idp.url), request, 'performer', frames, { burst: { times, clock } });
    expect(callback.searchParams.get('code'), callback.href).toBeTruthy();
    const tokens = await exchange(config, callback, request);
    expect(tokens.claims()?.amr).toEqual(expect.arrayContaining(['face', AMR_PAD]));
    const discovery = await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json() as { amr_values_supported: string[] };
    expect(discovery.amr_values_supported).toContain(AMR_PAD);
  }, 120_000);

  it('refuses the same burst again (a replay), a reused challenge, a challenge of another sign-in, and missing times', async () => {
    actions = ['turn_right', 'turn_left'];
    const { frames, times } = burst(59, 99);
    const http = new HttpClient(idp.url);
    const { facePath, csrf } = await faceStep(http);
    const challenge = (await http.postForm(`${facePath}/challenge`, { csrf }, 'application/json')).json<{ challenge: string; actions: string[]; capture: { intervalMs: number } }>();
    expect(challenge.actions).toEqual(actions);
    clock.advance(times.at(-1)!);
    const first = await http.postFrames(facePath, { csrf, challenge: challenge.challenge, times: JSON.stringify(times) }, frames, 'application/json');
    expect(first.status, first.text).toBe(303);

    const again = new HttpClient(idp.url);
    const step = await faceStep(again);
    const replay = await postBurst(again, step.facePath, { csrf: step.csrf }, frames, { times, clock }, 'application/json');
    expect(replay.status).toBe(409);
    expect(replay.json()).toMatchObject({ error: 'liveness_replayed' });

    const other = burst(60, 98);
    const reused = await again.postFrames(step.facePath, { csrf: step.csrf, challenge: challenge.challenge, times: JSON.stringify(other.times) }, other.frames, 'application/json');
    expect(reused.status).toBe(400); // bound to the first sign-in: not this one's
    expect(reused.json()).toMatchObject({ error: 'challenge_invalid' });

    const own = (await again.postForm(`${step.facePath}/challenge`, { csrf: step.csrf }, 'application/json')).json<{ challenge: string }>();
    // A malformed burst is refused before its challenge is spent; the first well-formed one spends it.
    const fresh = burst(61, 97);
    const noTimes = await again.postFrames(step.facePath, { csrf: step.csrf, challenge: own.challenge }, await reencoded(fresh.frames, 85), 'application/json');
    expect(noTimes.status).toBe(400);
    const still = await again.postFrames(step.facePath, { csrf: step.csrf, challenge: own.challenge, times: JSON.stringify(fresh.times.slice(0, 10)) }, Array.from({ length: 10 }, () => frame(88)), 'application/json');
    expect(still.status).toBe(409); // frame 88 was in an accepted burst
    expect(still.json()).toMatchObject({ error: 'liveness_replayed' });
    const spent = await again.postFrames(step.facePath, { csrf: step.csrf, challenge: own.challenge, times: JSON.stringify(fresh.times) }, await reencoded(fresh.frames, 84), 'application/json');
    expect(spent.status).toBe(409);
    expect(spent.json()).toMatchObject({ error: 'challenge_replayed' });
  }, 180_000);

  it('refuses single pictures, and the genuine turns answering another challenge', async () => {
    actions = ['turn_left', 'turn_right'];
    const http = new HttpClient(idp.url);
    const { facePath, csrf } = await faceStep(http);
    const single = await postBurst(http, facePath, { csrf }, [frame(88)], { times: [0], clock }, 'application/json');
    expect(single.status).toBe(400);
    expect(single.json()).toMatchObject({ error: 'bad_frame_count' });
    const { frames, times } = burst(58, 100, 3);
    const wrong = await postBurst(http, facePath, { csrf }, await reencoded(frames, 83), { times, clock }, 'application/json');
    expect(wrong.status).toBe(422);
    expect(['liveness_wrong_order', 'liveness_action_missing']).toContain(wrong.json<{ error: string }>().error);
  }, 120_000);

  it('re-enrollment on the account page takes the camera check too: pictures, a print and a foreign challenge are refused, a live burst re-enrolls', async () => {
    actions = ['turn_right', 'turn_left'];
    const { frames, times } = burst(58, 100);
    const http = await accountSignIn(new HttpClient(idp.url), 'performer', await reencoded(frames, 84), undefined, { times, clock });
    const csrf = (await http.get('/account')).json<{ csrf: string }>().csrf;
    const template = async () => {
      const account = (await idp.database.knex('accounts').where({ username: 'performer' }).first()) as { id: string };
      return ((await idp.database.knex('face_templates').where({ account_id: account.id }).first()) as { ciphertext: Buffer }).ciphertext;
    };
    const before = await template();
    const challenge = async () => {
      const response = await http.postForm('/account/face/challenge', { csrf }, 'application/json');
      expect(response.status, response.text).toBe(200);
      return response.json<{ challenge: string }>().challenge;
    };
    const reenroll = async (fields: Record<string, string>, burstFrames: Frame[]) => http.postFrames('/account/face', { csrf, ...fields }, burstFrames, 'application/json');
    // Pictures without a challenge and their capture times: a photo cannot replace the face.
    const pictures = await reenroll({}, [86, 87, 88].map(frame));
    expect(pictures.status).toBe(400);
    // A print of the face answering a real challenge of this account.
    const print = (await printBurst(readFileSync(path.join(clip, '088.jpg')), Array.from({ length: 10 }, () => ({ scale: 4 })), 41)).map((data) => ({ data: new Uint8Array(data) }));
    const printed = await reenroll({ challenge: await challenge(), times: JSON.stringify(print.map((_, i) => i * 250)) }, print);
    expect(printed.status).toBe(422);
    expect(printed.json<{ error: string }>().error).toMatch(/^liveness_/);
    // A challenge issued for a sign-in (another binding) does not answer the account page.
    const stranger = new HttpClient(idp.url);
    const other = await faceStep(stranger);
    const foreign = await stranger.postForm(`${other.facePath}/challenge`, { csrf: other.csrf }, 'application/json');
    expect(foreign.status, foreign.text).toBe(200);
    const misbound = await reenroll({ challenge: foreign.json<{ challenge: string }>().challenge, times: JSON.stringify(times) }, await reencoded(frames, 85));
    expect(misbound.status).toBe(400);
    expect(misbound.json<{ error: string }>().error).toBe('challenge_invalid');
    expect(await template()).toEqual(before);
    // The user's own turns, answering the account's challenge, re-enroll the face (the refused
    // attempts above spent the three re-enrollments a day: a clean budget for this one).
    await idp.database.knex('rate_windows').where('key', 'like', 'reenroll-%').delete();
    const live = await challenge();
    clock.advance(times.at(-1)!);
    const renewed = await http.postFrames('/account/face', { csrf, challenge: live, times: JSON.stringify(times) }, await reencoded(frames, 86));
    expect(renewed.status, renewed.text).toBe(303);
    expect(await template()).not.toEqual(before);
  }, 240_000);

  it('refuses prints of the enrolled face (still, moved, tilted) with a readable page, and audits why', async () => {
    actions = ['turn_left', 'turn_right'];
    const photo = readFileSync(path.join(clip, '088.jpg'));
    const attacks = {
      // The clip's frame shows the face about 90 px wide in 640: printed at 4x it fills a webcam frame.
      still: Array.from({ length: 10 }, () => ({ scale: 4 })),
      moved: ramp(-60, 60, 10).map((dx, i) => ({ dx, rollDeg: i - 5, scale: 4 })),
      tilted: [0, -25, -45, -55, -30, 0, 30, 45, 55, 30].map((yawDeg) => ({ yawDeg, scale: 4.5 })),
    };
    // Twice over: six refused prints, more than the five failures that lock the face step.
    for (const [k, [name, poses]] of [...Object.entries(attacks), ...Object.entries(attacks)].entries()) {
      const http = new HttpClient(idp.url);
      const { facePath, csrf } = await faceStep(http);
      const frames = (await printBurst(photo, poses, 3 + k)).map((data) => ({ data: new Uint8Array(data) }));
      const page = await postBurst(http, facePath, { csrf }, frames, { times: frames.map((_, i) => i * 250), clock }, 'text/html');
      expect(page.status, name).toBeGreaterThanOrEqual(400);
      expect(page.status, name).toBeLessThan(500);
      // A refused print is a failed attempt: after five (counting the earlier tests') the face step locks.
      expect(page.text, name).toMatch(/data-error-code="(liveness_failed|liveness_action_missing|liveness_wrong_order|too_many_attempts)"/);
      expect(page.text, name).toMatch(/camera check|turn|too many/i);
      expect(page.text).not.toMatch(/planar|parallax|jerky/);
    }
    const rows = await idp.database.knex('audit_events').where({ type: 'liveness_refused' });
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r: { outcome: string }) => /^[a-z_]+$/.test(r.outcome))).toBe(true);
    expect(await idp.database.knex('audit_events').where({ type: 'lockout' }).first()).toBeTruthy();
  }, 240_000);
});
