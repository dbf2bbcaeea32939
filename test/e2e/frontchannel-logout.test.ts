import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, chromiumPath, screenshot } from '../../support/browser.ts';
import { fakeParts, type FakeParts } from '../../support/fakes.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { authRequest, exchange, signInOverHttp, signUpOverHttp } from '../../support/signin.ts';

/**
 * Front-Channel Logout 1.0 in a real browser: the sign-out page's frames must really load the
 * relying parties' logout URIs under our CSP (frame-src), and the page must then continue to the
 * RP's post-logout URI by itself. The session is made over the HTTP contract (the fake face parts
 * cannot see a browser camera) and handed to Chromium as its cookies; everything after that is
 * the browser's.
 */
const skip = browserSkipReason();
if (skip) console.warn(`[e2e] skipping front-channel logout test: ${skip}`);

describe.skipIf(skip !== null)('front-channel logout in Chromium', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let rp: Server;
  let rpUrl: string;
  let browser: Browser | undefined;
  const frameRequests: URL[] = [];

  beforeAll(async () => {
    parts = await fakeParts();
    // The relying party: its logout URI (framed by the IdP's page), and its post-logout page.
    rp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', rpUrl);
      res.setHeader('cache-control', 'no-cache, no-store');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      if (url.pathname === '/frontchannel') {
        frameRequests.push(url);
        // A slow RP: the page waits for its frame (long enough for a screenshot of the page).
        setTimeout(() => res.end('<!doctype html><title>RP logout</title><p>signed out of the RP</p>'), 1500);
        return;
      }
      res.end('<!doctype html><title>RP home</title><h1>Relying party: signed out</h1>');
    });
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
    rpUrl = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
    idp = await startIdp(parts.parts);
    const signedUp = await signUpOverHttp(idp.url, 'frank', parts.enrollFrames);
    expect(signedUp.status, signedUp.text).toBe(303);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (rp ? rp.close(() => resolve()) : resolve()));
    await idp?.close();
    await parts?.close();
  });

  it('loads the RP logout frame with iss and sid, then lands on the RP post-logout page', async () => {
    const redirectUri = `${rpUrl}/callback`;
    const { clientId, clientSecret } = await idp.app.services.clients.add({
      name: 'Framed RP',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [`${rpUrl}/`],
      frontchannelLogoutUri: `${rpUrl}/frontchannel`,
    });
    const config = await oidc.discovery(new URL(idp.url), clientId, clientSecret!, undefined, { execute: [oidc.allowInsecureRequests] });
    const http = new HttpClient(idp.url);
    const request = await authRequest(config, { redirect_uri: redirectUri });
    const { callback } = await signInOverHttp(http, request, 'frank', parts.sameFrames, { redirectUri });
    const tokens = await exchange(config, callback, request);
    const sid = tokens.claims()!.sid as string;
    expect(sid).toBeTruthy();

    browser = await chromium.launch({ executablePath: chromiumPath()!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const context = await browser.newContext({ viewport: { width: 420, height: 800 } });
    const idpCookies = http.jar.header('/').split('; ').filter(Boolean).map((pair) => {
      const eq = pair.indexOf('=');
      return { name: pair.slice(0, eq), value: pair.slice(eq + 1), url: idp.url };
    });
    await context.addCookies(idpCookies);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });

    await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rpUrl}/`, state: 'bye' }).href);
    await screenshot(page, 'frontchannel-01-confirm');
    // The sign-out page (POST /session/end/confirm) frames the RP, then moves on by itself.
    const signingOut = page.waitForResponse((response) => new URL(response.url()).pathname === '/session/end/confirm');
    await page.getByRole('button', { name: /sign me out/i }).click();
    const confirmed = await signingOut;
    expect(confirmed.status()).toBe(200);
    expect(await confirmed.text()).toContain(`${rpUrl}/frontchannel?iss=`);
    await screenshot(page, 'frontchannel-02-signing-out');
    await page.waitForURL(`${rpUrl}/?state=bye`, { timeout: 15_000 });
    expect(await page.locator('h1').textContent()).toBe('Relying party: signed out');

    expect(frameRequests).toHaveLength(1);
    expect(frameRequests[0]!.searchParams.get('iss')).toBe(idp.url);
    expect(frameRequests[0]!.searchParams.get('sid')).toBe(sid);
    expect(violations).toEqual([]);
  });
});
