import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, fakeCamera, launchWithCamera, scratchDir, screenshot } from '../../support/browser.ts';
import { signUpOverHttp } from '../../support/signin.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { startRelyingParty } from '../../support/rp.ts';

/**
 * The second factor as a user meets it, in real Chromium: set up an authenticator app on the
 * account page (reading the key from the page as an app would), step up from a face-only session
 * through the sample relying party's protected page, sign in with face then code, get a wrong
 * code refused, and delete the account.
 */
const skip = browserSkipReason();
if (skip) console.warn(`[e2e] skipping browser tests: ${skip}`);

const USERNAME = 'erin.mfa';
const FACE = 'urn:faceid-fhe:acr:face';
const FACE_OTP = 'urn:faceid-fhe:acr:face-otp';

describe.skipIf(skip !== null)('second factor, step-up and account self-service in a real browser', { timeout: 120_000 }, () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let rp: Awaited<ReturnType<typeof startRelyingParty>>;
  let browser: Browser;
  let page: Page;
  let secret = '';
  let accountId = '';
  let lastStep = 0;
  const clock = { offset: 0, now: () => Date.now() + clock.offset };

  /**
   * The next unused TOTP code: the IdP refuses a code twice but accepts one step ahead (clock
   * drift, RFC 6238 5.2), so a later step is used at once and a wait is rarely needed.
   */
  const nextCode = async (): Promise<string> => {
    // The IdP's clock (injected) moves on by a step whenever the next code would be ahead of it,
    // as an app's user waits for the next code; never the step before `now` (see stepup.test.ts).
    let now = Math.floor(clock.now() / 30_000);
    if (lastStep + 1 > now + 1) {
      clock.offset += 30_000;
      now = Math.floor(clock.now() / 30_000);
    }
    const step = Math.max(now, lastStep + 1);
    lastStep = step;
    return generate({ secret, epoch: step * 30 });
  };

  const allowIfAsked = async () => {
    await page.waitForSelector('form[action$="/confirm"], #claims, #protected-ok, [data-error-code]', { timeout: 60_000 });
    if (await page.locator('form[action$="/confirm"]').count()) await page.click('form[action$="/confirm"] button');
  };

  const claim = async (name: string) => JSON.parse((await page.locator(`[data-claim="${name}"]`).first().textContent())!.split(' (')[0]!);

  /** At the IdP's camera step: press the button, then allow consent if it is asked. */
  const faceStep = async (name: string) => {
    await page.waitForSelector('[data-capture]:not([disabled])');
    await screenshot(page, `${name}-camera`);
    await page.click('[data-capture]');
    await page.waitForSelector('input[name=code], form[action$="/confirm"], #claims, [data-error-code]', { timeout: 60_000 });
  };

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp({ ...parts.parts, clock });
    rp = await startRelyingParty(idp);
    expect((await signUpOverHttp(idp.url, USERNAME, parts.enrollFrames)).status).toBe(303);
    accountId = (await idp.app.services.accounts.findByUsername(USERNAME))!.id;
    const camera = await fakeCamera([parts.people.a.verify[0]!], join(scratchDir('faceid-e2e-mfa-'), 'same.mjpeg'));
    browser = await launchWithCamera(camera);
    page = await browser.newPage({ viewport: { width: 420, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await idp?.close();
    await parts?.close();
  });

  it('signs in face-only first (no authenticator yet)', async () => {
    await page.goto(rp.url);
    await page.click('#signin');
    await page.fill('input[name=username]', USERNAME);
    await page.click('button[type=submit]');
    await faceStep('mfa-1-face-only');
    await allowIfAsked();
    await page.waitForSelector('#claims');
    expect(await claim('acr')).toBe(FACE);
  });

  it('sets up an authenticator app on the account page, reading the key from the page', async () => {
    await page.goto(`${idp.url}/account`);
    await page.waitForSelector('[data-field="username"]');
    await screenshot(page, 'mfa-2-account');
    await page.click('#setup-totp');
    await page.waitForSelector('#totp-secret');
    await screenshot(page, 'mfa-3-totp-setup');
    secret = (await page.textContent('#totp-secret'))!.trim();
    await page.fill('#code', await nextCode());
    await page.click('button[type=submit]');
    await page.waitForSelector('#recovery-codes');
    await screenshot(page, 'mfa-4-recovery-codes');
    expect(await page.locator('#recovery-codes li').count()).toBe(10);
  });

  it('steps up from the face-only session via the relying party\'s protected page: fresh face, TOTP, new acr', async () => {
    await page.goto(rp.url);
    expect(await claim('acr')).toBe(FACE);
    const before = await claim('auth_time');
    await page.click('#protected');
    // A step-up names who is signed in; there is no username to type (or to get wrong).
    await page.waitForSelector('[data-signed-in]');
    await screenshot(page, 'mfa-5-stepup-signed-in-as');
    expect(await page.textContent('[data-signed-in]')).toBe(USERNAME);
    expect(await page.locator('#username').count()).toBe(0);
    await page.click('button[type=submit]');
    await faceStep('mfa-5-stepup');
    await screenshot(page, 'mfa-6-stepup-totp');
    await page.fill('input[name=code]', await nextCode());
    await page.click('button[type=submit]');
    await allowIfAsked();
    await page.waitForSelector('#protected-ok');
    await screenshot(page, 'mfa-7-protected');
    expect(await claim('acr')).toBe(FACE_OTP);
    expect(await claim('amr')).toEqual(['face', 'otp', 'mfa']);
    expect(await claim('auth_time')).toBeGreaterThanOrEqual(before);
  });

  it('after signing out, signs in with face then code; a wrong code is refused first', async () => {
    await page.goto(rp.url);
    await page.click('#logout');
    await page.click('button[name=logout]');
    await page.waitForSelector('#signin');
    await page.click('#signin');
    await page.fill('input[name=username]', USERNAME);
    await page.click('button[type=submit]');
    await faceStep('mfa-8-signin');
    await page.fill('input[name=code]', '000000');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-error-code]');
    await screenshot(page, 'mfa-9-wrong-code');
    expect(await page.getAttribute('[data-error-code]', 'data-error-code')).toBe('totp_invalid');
    await page.click('[data-retry]');
    await page.fill('input[name=code]', await nextCode());
    await page.click('button[type=submit]');
    await allowIfAsked();
    await page.waitForSelector('#claims');
    await screenshot(page, 'mfa-10-signed-in');
    expect(await claim('amr')).toEqual(['face', 'otp', 'mfa']);
    expect(await claim('acr')).toBe(FACE_OTP);
  });

  it('deletes the account: it can no longer sign in and nothing of it is left', async () => {
    await page.goto(`${idp.url}/account`);
    await page.fill('#confirm', USERNAME);
    await page.click('#delete-account');
    await page.waitForSelector('text=Your account is deleted');
    await screenshot(page, 'mfa-11-deleted');
    const db = idp.database.knex;
    expect(await db('accounts').where({ id: accountId })).toEqual([]);
    expect(await db('face_templates').where({ account_id: accountId })).toEqual([]);
    expect(await db('totp_credentials').where({ account_id: accountId })).toEqual([]);
    expect(await db('recovery_codes').where({ account_id: accountId })).toEqual([]);
    expect(await db('oidc_payloads').whereRaw("payload->>'accountId' = ?", [accountId])).toEqual([]);
    expect(await db('audit_events').where({ account_id: accountId })).toEqual([]);
    const deletions = await db('audit_events').where({ type: 'account_deleted' });
    expect(deletions, JSON.stringify(await db('audit_events').select('type', 'outcome', 'account_id'))).toHaveLength(1);
    expect(deletions[0].account_id).toMatch(/^anon:/);

    // A fresh browser profile (the relying party still remembers the old ID token in this one).
    page = await (await browser.newContext({ viewport: { width: 420, height: 900 } })).newPage();
    await page.goto(rp.url);
    await page.click('#signin');
    await page.fill('input[name=username]', USERNAME);
    await page.click('button[type=submit]');
    await faceStep('mfa-12-after-deletion');
    expect(await page.getAttribute('[data-error-code]', 'data-error-code')).toBe('face_not_matched');
  });
});
