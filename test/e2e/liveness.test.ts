import { readFileSync } from 'node:fs';
import path, { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Action } from '../../src/liveness/index.ts';
import { AMR_PAD } from '../../src/policy/index.ts';
import { browserSkipReason, launchWithCamera, scratchDir, screenshot } from '../../support/browser.ts';
import { facesDir, facesRequirement, makeMjpeg } from '../../support/faces.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { printBurst, ramp, type PrintPose } from '../../support/pad.ts';
import { startRelyingParty } from '../../support/rp.ts';
import { signUpOverHttp } from '../../support/signin.ts';

/**
 * Presentation-attack detection as a user (and an attacker) meets it: real Chromium whose fake
 * camera plays real head motion (video/head-motion-1, frames 61-100 and back, a seamless loop of
 * the performer turning right and left) signs in to the sample relying party answering a
 * challenge the test fixes; the same account with a still, a moved and a tilted print is refused
 * with a readable page. Screenshots of the prompts go to test-output/screenshots.
 */
const skip = browserSkipReason();
const faces = facesRequirement();
if (skip) console.warn(`[e2e] skipping browser tests: ${skip}`);

describe.skipIf(skip !== null || !faces.available)('presentation-attack detection in a real browser', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let rp: Awaited<ReturnType<typeof startRelyingParty>>;
  let browser: Browser | undefined;
  const dir = scratchDir('faceid-pad-e2e-');
  const clip = path.join(facesDir() ?? '', 'video', 'head-motion-1');
  const frame = (n: number) => readFileSync(path.join(clip, `${String(n).padStart(3, '0')}.jpg`));
  const cameras: Record<string, string> = {};
  const actions: Action[] = ['turn_right', 'turn_left'];

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp({ ...parts.parts, liveness: { generate: () => [...actions] } }, { env: { LIVENESS: 'on' } });
    rp = await startRelyingParty(idp);
    // Enrolled over HTTP with a burst of his turns (the sign-up page's camera check).
    const enroll = Array.from({ length: 22 }, (_, i) => 58 + 2 * i);
    const signup = await signUpOverHttp(idp.url, 'performer', enroll.map((n) => ({ data: new Uint8Array(frame(n)) })), { burstTimes: enroll.map((n) => Math.round(((n - 58) * 1000) / 15)) });
    expect(signup.status, signup.text).toBe(303);
    // 15 fps clip, each frame shown twice (Chromium plays a fake-camera file at 30 fps), forth and
    // back: frames 61-100 are the performer turning to his right (peak at 80) then to his left (94).
    const forth = Array.from({ length: 100 - 61 + 1 }, (_, i) => frame(61 + i));
    cameras.genuine = await makeMjpeg([...forth, ...[...forth].reverse()].flatMap((f) => [f, f]), join(dir, 'genuine.mjpeg'));
    // Prints of the performer's frontal frame, held as an attacker would, 4 camera frames per pose.
    const print = async (name: string, poses: PrintPose[]) => {
      cameras[name] = await makeMjpeg((await printBurst(frame(88), poses, 5)).flatMap((f) => [f, f, f, f]), join(dir, `${name}.mjpeg`));
    };
    await print('still', [{ scale: 4 }]);
    await print('moved', [...ramp(-60, 60, 12), ...ramp(60, -60, 12)].map((dx, i) => ({ dx, rollDeg: (i % 12) - 6, scale: 4 })));
    await print('tilted', [...ramp(0, 55, 8), ...ramp(55, -55, 16), ...ramp(-55, 0, 8)].map((yawDeg) => ({ yawDeg, scale: 4.5 })));
  }, 300_000);

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  afterAll(async () => {
    await rp?.close();
    await idp?.close();
    await parts?.close();
  });

  const toCamera = async (camera: string, name: string): Promise<Page> => {
    browser = await launchWithCamera(cameras[camera]!);
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } });
    await page.goto(rp.url);
    await page.click('#signin');
    await page.waitForSelector('input[name=username]');
    await page.fill('input[name=username]', 'performer');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-capture]:not([disabled])');
    await screenshot(page, `pad-${name}-1-camera`);
    return page;
  };

  it('signs in with real head turns answering the challenge, prompts shown one at a time; amr says PAD', async () => {
    const page = await toCamera('genuine', 'genuine');
    const started = Date.now();
    await page.click('[data-capture]');
    await page.waitForSelector('[data-prompt]:not([hidden])');
    await screenshot(page, 'pad-genuine-2-prompt');
    await page.locator('[data-prompt-text]', { hasText: /right/i }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'pad-genuine-3-turn-right');
    await page.locator('[data-prompt-text]', { hasText: /left/i }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'pad-genuine-4-turn-left');
    await page.waitForSelector('form[action$="/confirm"], #claims, [data-error-code]', { timeout: 60_000 });
    if (await page.locator('form[action$="/confirm"]').count()) await page.click('form[action$="/confirm"] button');
    const code = await page.getAttribute('[data-error-code]', 'data-error-code').catch(() => null);
    if (code) console.log('[e2e] refused, audited reasons:', JSON.stringify(await idp.database.knex('audit_events').where({ type: 'liveness_refused' }).select('outcome')));
    expect(code, (await page.textContent('body')) ?? '').toBeNull();
    await page.waitForSelector('#claims');
    console.log(`[e2e] PAD sign-in, click -> RP claims page: ${Date.now() - started} ms`);
    await screenshot(page, 'pad-genuine-5-claims');
    const amr = JSON.parse((await page.locator('[data-claim="amr"]').first().textContent())!.split(' (')[0]!);
    expect(amr).toEqual(expect.arrayContaining(['face', AMR_PAD]));
  }, 120_000);

  for (const attack of ['still', 'moved', 'tilted']) {
    it(`refuses a ${attack} print of the same face with a readable page`, async () => {
      const page = await toCamera(attack, attack);
      await page.click('[data-capture]');
      await page.waitForSelector('[data-prompt]:not([hidden])');
      await screenshot(page, `pad-${attack}-2-prompt`);
      await page.waitForSelector('[data-error-code]', { timeout: 60_000 });
      await screenshot(page, `pad-${attack}-3-refused`);
      const code = await page.getAttribute('[data-error-code]', 'data-error-code');
      expect(['liveness_failed', 'liveness_action_missing', 'liveness_wrong_order', 'liveness_face_lost', 'liveness_face_too_small', 'too_many_attempts']).toContain(code);
      expect(await page.locator('h1').textContent()).toBeTruthy();
      expect(await page.locator('[data-retry], a.button').count()).toBeGreaterThan(0);
    }, 120_000);
  }
});
