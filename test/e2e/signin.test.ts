import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, fakeCamera, launchWithCamera, scratchDir, screenshot } from '../../support/browser.ts';
import { demoBackground, demoPhoto, facesDir, loadFace, webcamFrame } from '../../support/faces.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { startRelyingParty } from '../../support/rp.ts';

/**
 * The product as a user meets it: real Chromium with a fake camera playing real photos, the sample
 * relying party, the IdP with the real face engine, HE and key custodian. Screenshots of every
 * page state go to test-output/screenshots.
 */
const skip = browserSkipReason();
if (skip) console.warn(`[e2e] skipping browser tests: ${skip}`);

const USERNAME = 'alice.e2e';

describe.skipIf(skip !== null)('sign-up and sign-in in a real browser', () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let rp: Awaited<ReturnType<typeof startRelyingParty>>;
  const dir = scratchDir('faceid-e2e-');
  const cameras: Record<string, string> = {};
  let browser: Browser | undefined;

  /** A camera file per scenario: each photo shown for 10 frames, looping. */
  const camera = async (name: string, frames: Buffer[]) => {
    cameras[name] = await fakeCamera(frames, join(dir, `${name}.mjpeg`));
  };

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp(parts.parts);
    rp = await startRelyingParty(idp);
    const who = parts.people;
    await camera('enroll', who.a.enroll);
    await camera('same', who.a.verify.slice(0, 1));
    await camera('other', who.b);
    const group = facesDir() ? loadFace('_multiple_faces', 1) : demoPhoto(1);
    await camera('two', [await sharp(group).resize(640, 480, { fit: 'cover' }).jpeg().toBuffer()]);
    await camera('none', [await webcamFrame(await demoBackground())]);
    // The same person out of focus (sigma 6 px on the 640x480 frame): the quality gate's face_blurred.
    await camera('blurred', [await sharp(who.a.verify[0]!).blur(6).jpeg({ quality: 90 }).toBuffer()]);
    console.log(`[e2e] faces from ${who.source}`);
  });

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  afterAll(async () => {
    await rp?.close();
    await idp?.close();
    await parts?.close();
  });

  const open = async (cameraName: string): Promise<Page> => {
    browser = await launchWithCamera(cameras[cameraName]!);
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } });
    await page.goto(rp.url);
    return page;
  };

  /** From the relying party's home page to the IdP's camera step for `username`. */
  const toCamera = async (page: Page, name: string) => {
    await page.click('#signin');
    await page.waitForSelector('input[name=username]');
    await screenshot(page, `${name}-1-username`);
    await page.fill('input[name=username]', USERNAME);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-capture]:not([disabled])');
    await screenshot(page, `${name}-2-camera`);
  };

  /** After the camera step: the consent page (first visit of this client) or straight back to it. */
  const allowIfAsked = async (page: Page, name: string) => {
    await page.waitForSelector('form[action$="/confirm"], #claims, [data-error-code]', { timeout: 60_000 });
    if (await page.locator('form[action$="/confirm"]').count()) {
      await screenshot(page, `${name}-consent`);
      await page.click('form[action$="/confirm"] button');
    }
  };

  /** Camera `cameraName` through to the refusal page; its screenshot is `${name}-3-page`. */
  const refused = async (cameraName: string, name: string): Promise<{ page: Page; code: string | null }> => {
    const page = await open(cameraName);
    await toCamera(page, name);
    await page.click('[data-capture]');
    await page.waitForSelector('[data-error-code]');
    await screenshot(page, `${name}-3-page`);
    return { page, code: await page.getAttribute('[data-error-code]', 'data-error-code') };
  };

  const claim = async (page: Page, name: string) => JSON.parse((await page.locator(`[data-claim="${name}"]`).first().textContent())!.split(' (')[0]!);

  it('signs up through the pages: details, consent to biometrics, camera; no photo kept', async () => {
    const page = await open('enroll');
    await page.click('#signin');
    await page.click('a[href$="/signup"]');
    await page.fill('#username', USERNAME);
    await page.fill('#email', 'alice@example.com'); // leaving the username field checks it
    await page.waitForSelector('[data-username-status][data-available="yes"]');
    await page.fill('#name', 'Alice Example');
    // The camera waits for the consent.
    expect(await page.textContent('[data-status]')).toContain('Tick the box');
    expect(await page.isDisabled('[data-capture]')).toBe(true);
    await page.check('input[name=consent]');
    await page.waitForSelector('[data-capture]:not([disabled])');
    await screenshot(page, 'signup-1-form-and-camera');
    await page.click('[data-capture]');
    await allowIfAsked(page, 'signup-2');
    await page.waitForURL(`${rp.url}/**`);
    await page.waitForSelector('#claims');
    await screenshot(page, 'signup-3-signed-in');
    expect(await claim(page, 'amr')).toEqual(['face']);
  });

  it('signs in to the relying party with another photo of the same person: amr face, checked by the RP', async () => {
    const page = await open('same');
    await toCamera(page, 'signin');
    await page.click('[data-capture]');
    await allowIfAsked(page, 'signin-3');
    await page.waitForSelector('#claims');
    await screenshot(page, 'signin-4-claims');
    expect(await claim(page, 'amr')).toEqual(['face']);
    expect(await claim(page, 'acr')).toBe('urn:faceid-fhe:acr:face');
    expect(await claim(page, 'preferred_username')).toBe(USERNAME);
    expect(Math.abs((await claim(page, 'auth_time')) - Date.now() / 1000)).toBeLessThan(120);
    // Sign out again through RP-initiated logout.
    await page.click('#logout');
    await page.click('button[name=logout]');
    await page.waitForSelector('#signin');
  });

  it('denies another person plainly and offers a retry', async () => {
    const { page, code } = await refused('other', 'denied');
    expect(code).toBe('face_not_matched');
    expect(await page.locator('[data-retry]').count()).toBe(1);
  });

  it('explains a picture with two people', async () => {
    const { code } = await refused('two', 'two-faces');
    expect(code).toBe('multiple_faces');
  });

  it('explains a picture with no face', async () => {
    const { code } = await refused('none', 'no-face');
    expect(code).toBe('no_face');
  });

  it('explains a blurred picture instead of refusing the face', async () => {
    const { page, code } = await refused('blurred', 'blurred');
    expect(code).toBe('face_blurred');
    expect(await page.textContent('h1')).toContain('Picture blurred');
    expect(await page.locator('[data-retry]').count()).toBe(1);
  });

  it('explains a camera that cannot be used', async () => {
    browser = await launchWithCamera(cameras.none!);
    const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
    const page = await context.newPage();
    // Simulate a device without a camera: getUserMedia fails the way browsers report it.
    await page.addInitScript(() => {
      const devices = (navigator as unknown as { mediaDevices: { getUserMedia: () => Promise<never> } }).mediaDevices;
      devices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    });
    await page.goto(rp.url);
    await page.click('#signin');
    await page.fill('input[name=username]', USERNAME);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-camera-error]:not([hidden])');
    await screenshot(page, 'camera-error');
    expect(await page.textContent('[data-camera-error-text]')).toContain('No camera was found');
    expect(await page.isDisabled('[data-capture]')).toBe(true);
  });
});
