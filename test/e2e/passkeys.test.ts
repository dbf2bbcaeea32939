import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, fakeCamera, launchWithCamera, scratchDir, screenshot } from '../../support/browser.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { realParts, type PartsHandle } from '../../support/parts.ts';
import { startRelyingParty } from '../../support/rp.ts';
import { accountSignIn, postJson, signUpOverHttp } from '../../support/signin.ts';
import { createSoftAuthenticator } from '../../support/soft-authenticator.ts';

/**
 * Passkeys as a user meets them, in real Chromium with a virtual authenticator (Chrome DevTools
 * Protocol WebAuthn domain: a platform authenticator with resident keys and user verification):
 * register one on the account page after a fresh face match, sign in to the sample relying party
 * without typing a username (passkey, then the face), and the attacks a browser can carry: a
 * replayed assertion, a phishing origin, another account's passkey, a removed passkey.
 *
 * The IdP is served as http://localhost:<port>: a WebAuthn RP ID is a domain, never an IP
 * address, and localhost is a secure context over plain HTTP.
 */
const skip = browserSkipReason();
if (skip) console.warn(`[e2e] skipping browser tests: ${skip}`);

const ALICE = 'alice.passkey';
const BOB = 'bob.passkey';
const PASSKEY_FACE = 'urn:faceid-fhe:acr:passkey-face';

/** What the page scripts below use of the page (the test's TypeScript has no DOM library). */
interface PageGlobals {
  document: { querySelector(selector: string): { dataset: Record<string, string>; textContent: string | null } | null };
  sign(challenge: string, rpId: string): Promise<unknown>;
}

interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId: string;
  privateKey: string;
  userHandle: string;
  signCount: number;
}

describe.skipIf(skip !== null)('passkeys in a real browser (virtual authenticator)', { timeout: 180_000 }, () => {
  let parts: PartsHandle;
  let idp: IdpHandle;
  let rp: Awaited<ReturnType<typeof startRelyingParty>>;
  let phishing: http.Server;
  let phishingUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  /** The JSON the page posted for the passkey step of the first sign-in (the attacker's copy). */
  let recorded: unknown;

  const claim = async (name: string) => JSON.parse((await page.locator(`[data-claim="${name}"]`).first().textContent())!.split(' (')[0]!);
  const allowIfAsked = async () => {
    await page.waitForSelector('form[action$="/confirm"], #claims, [data-error-code]', { timeout: 60_000 });
    if (await page.locator('form[action$="/confirm"]').count()) await page.click('form[action$="/confirm"] button');
  };
  const credentials = async (): Promise<VirtualCredential[]> => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials as VirtualCredential[];
  /** Signs out of the IdP and the RP: the next sign-in starts from nothing (the authenticator stays). */
  const forget = () => context.clearCookies();
  /** From the RP's "Sign in with a passkey" to the IdP's login page, which leads with the passkey. */
  const toPasskeyLogin = async () => {
    await forget();
    await page.goto(rp.url);
    await page.click('#signin-passkey');
    await page.waitForSelector('[data-passkey-first]');
  };
  /**
   * Presses the passkey button and returns the IdP's answer to the assertion (read on the way
   * through: the page navigates on at once, so the body could not be read afterwards).
   */
  const usePasskey = async (): Promise<{ status: number; body: { error?: string; location?: string } }> => {
    let answer: { status: number; body: { error?: string; location?: string } } | undefined;
    const seen = new Promise<void>((resolve) => {
      void page.route('**/interaction/*/passkey', async (route) => {
        if (route.request().method() !== 'POST') return route.fallback();
        const response = await route.fetch();
        answer = { status: response.status(), body: await response.json() };
        await route.fulfill({ response });
        resolve();
      });
    });
    await page.click('#signin-passkey');
    await seen;
    await page.unrouteAll();
    return answer!;
  };
  /** The face step in the browser, as far as the RP's claims page (or a refusal page). */
  const faceStep = async () => {
    await page.waitForSelector('[data-capture]:not([disabled])', { timeout: 60_000 });
    await page.click('[data-capture]');
  };

  beforeAll(async () => {
    parts = await realParts({ workers: 2 });
    idp = await startIdp(parts.parts, { host: 'localhost' });
    rp = await startRelyingParty(idp);
    expect((await signUpOverHttp(idp.url, ALICE, parts.enrollFrames)).status).toBe(303);
    expect((await signUpOverHttp(idp.url, BOB, parts.otherEnrollFrames)).status).toBe(303);
    // A page on another origin that signs whatever challenge it is handed (the phishing site).
    phishing = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(PHISHING_PAGE);
    });
    await new Promise<void>((resolve) => phishing.listen(0, '127.0.0.1', resolve));
    phishingUrl = `http://phish.localhost:${(phishing.address() as AddressInfo).port}/`;

    const camera = await fakeCamera([parts.people.a.verify[0]!], join(scratchDir('faceid-e2e-passkey-'), 'alice.mjpeg'));
    browser = await launchWithCamera(camera);
    context = await browser.newContext({ viewport: { width: 420, height: 900 } });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    }));
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/passkey') && recorded === undefined) recorded = request.postDataJSON();
    });
  });

  afterAll(async () => {
    await browser?.close();
    phishing?.close();
    await rp?.close();
    await idp?.close();
    await parts?.close();
  });

  it('registers a passkey on the account page after a fresh face match; the first one brings recovery codes', async () => {
    await page.goto(`${idp.url}/account`);
    await page.fill('input[name=username]', ALICE);
    await page.click('button[type=submit]');
    await faceStep();
    await page.waitForSelector('[data-field="username"]', { timeout: 60_000 });
    await page.fill('#passkey-name', 'This laptop');
    await page.click('#add-passkey');
    await page.waitForSelector('[data-recovery-codes]:not([hidden])');
    await screenshot(page, 'passkey-1-added-recovery-codes');
    expect(await page.locator('[data-recovery-list] li').count()).toBe(10);
    await page.click('[data-recovery-continue]');
    await page.waitForSelector('li[data-passkey]');
    expect(await page.textContent('li[data-passkey]')).toContain('This laptop');
    expect(await page.locator(`[data-levels] [data-acr="${PASSKEY_FACE}"]`).count()).toBe(1);
    const stored = await credentials();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(await idp.database.knex('audit_events').where({ type: 'passkey_registered', outcome: 'success' })).toHaveLength(1);
  });

  it('signs in to the sample RP without a username: passkey, then the face; acr passkey-face, amr hwk user face mfa', async () => {
    await toPasskeyLogin();
    await screenshot(page, 'passkey-2-login');
    expect(await page.locator('input[name=username]').count()).toBe(0);
    const used = await usePasskey();
    expect(used.status).toBe(200);
    await page.waitForSelector('[data-capture]:not([disabled])');
    await screenshot(page, 'passkey-3-face-after-passkey');
    expect(await page.textContent('body')).toContain(ALICE);
    await page.click('[data-capture]');
    await allowIfAsked();
    await page.waitForSelector('#claims');
    await screenshot(page, 'passkey-4-claims');
    expect(await claim('acr')).toBe(PASSKEY_FACE);
    expect(await claim('amr')).toEqual(['hwk', 'user', 'face', 'mfa']);
    expect(await claim('preferred_username')).toBe(ALICE);
    expect(await page.textContent('[data-summary="acr"]')).toBe(PASSKEY_FACE);
    expect(recorded).toMatchObject({ response: { type: 'public-key' } });
  });

  it('refuses the recorded assertion replayed into a new sign-in', async () => {
    await toPasskeyLogin();
    const replay = await page.evaluate(async (body) => {
      const root = (globalThis as unknown as PageGlobals).document.querySelector('[data-passkey-signin]')!;
      await fetch(root.dataset.options!, { headers: { accept: 'application/json' } }); // a fresh challenge for this sign-in
      const response = await fetch(root.dataset.action!, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ ...(body as object), csrf: root.dataset.csrf }) });
      return { status: response.status, body: await response.json() };
    }, recorded);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'passkey_invalid' });
  });

  it('a phishing origin: the browser will not use the IdP\'s passkey there, and a copy of the key signing for it is refused', async () => {
    // The attacker's own sign-in at the IdP, started from the relying party; it relays the victim into it.
    const attacker = new HttpClient(idp.url);
    const toIdp = await attacker.get(`${rp.url}/login/passkey`);
    const options = await relayOptions(attacker, toIdp.location!);
    const victimPage = await context.newPage();
    const phishCdp = await context.newCDPSession(victimPage);
    await phishCdp.send('WebAuthn.enable');
    const { authenticatorId: phishAuthenticator } = await phishCdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const alice = (await credentials())[0]!;
    await victimPage.goto(phishingUrl);
    // 1. Asked for the IdP's RP ID from another origin, Chromium refuses (WebAuthn 5.1.4.1 step 8).
    const refused = await victimPage.evaluate(([challenge]) => (globalThis as unknown as PageGlobals).sign(challenge!, 'localhost'), [options.challenge]);
    expect(String(refused)).toMatch(/SecurityError/);
    // 2. The key copied into an authenticator for the phishing site's own RP ID: the browser signs,
    //    but for the wrong origin and RP ID, and the IdP refuses it.
    await phishCdp.send('WebAuthn.addCredential', { authenticatorId: phishAuthenticator, credential: { ...alice, rpId: 'phish.localhost' } });
    const signed = await victimPage.evaluate(([challenge]) => (globalThis as unknown as PageGlobals).sign(challenge!, 'phish.localhost'), [options.challenge]);
    expect(signed).toMatchObject({ type: 'public-key' });
    const relayed = await postJson(attacker, options.action, { csrf: options.csrf, response: signed });
    expect(relayed.status).toBe(401);
    expect(relayed.json()).toMatchObject({ error: 'passkey_invalid' });
    await victimPage.close();
  });

  it('another account\'s passkey followed by this face is denied', async () => {
    // Bob registers a passkey (over HTTP, with a software authenticator); its key is then put in
    // this browser's authenticator in place of Alice's, and Alice's face is in front of the camera.
    const bobKey = createSoftAuthenticator({ rpId: 'localhost', origin: idp.url });
    const session = await accountSignIn(new HttpClient(idp.url), BOB, parts.otherEnrollFrames.slice(0, 1));
    const csrf = (await session.get('/account')).json<{ csrf: string }>().csrf;
    const creation = await postJson(session, '/account/passkeys/options', { csrf });
    expect((await postJson(session, '/account/passkeys', { csrf, name: 'Bob key', response: bobKey.register(creation.json()) })).status).toBe(200);
    const alice = await credentials();
    await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    const bob = bobKey.credentials[0]!;
    await cdp.send('WebAuthn.addCredential', {
      authenticatorId,
      credential: { credentialId: bob.id.toString('base64'), isResidentCredential: true, rpId: 'localhost', privateKey: bob.key.export({ format: 'der', type: 'pkcs8' }).toString('base64'), userHandle: bob.userHandle.toString('base64'), signCount: 1 },
    });
    try {
      await toPasskeyLogin();
      expect((await usePasskey()).status).toBe(200);
      await page.waitForSelector('[data-capture]:not([disabled])');
      expect(await page.textContent('body')).toContain(BOB);
      await page.click('[data-capture]');
      await page.waitForSelector('[data-error-code]', { timeout: 60_000 });
      await screenshot(page, 'passkey-5-other-account-denied');
      expect(await page.getAttribute('[data-error-code]', 'data-error-code')).toBe('face_not_matched');
    } finally {
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
      for (const credential of alice) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    }
  });

  it('the username page offers the passkey by autofill (conditional UI); a removed passkey no longer signs in', async () => {
    await forget();
    await page.goto(`${idp.url}/account`);
    // The username field asks for autocomplete="username webauthn": the virtual authenticator
    // answers the conditional request at once, as a user picking the passkey from autofill would;
    // the face step follows, pinned to the account the passkey named.
    await page.waitForSelector('[data-capture]:not([disabled])', { timeout: 60_000 });
    expect(await page.textContent('body')).toContain(ALICE);
    await page.click('[data-capture]');
    await page.waitForSelector('li[data-passkey]', { timeout: 60_000 });
    await page.click('li[data-passkey] button');
    await page.waitForSelector('[data-passkeys="none"]');
    expect(await idp.database.knex('audit_events').where({ type: 'passkey_removed' })).toHaveLength(1);
    await toPasskeyLogin();
    const used = await usePasskey();
    expect(used.status).toBe(401);
    expect(used.body).toMatchObject({ error: 'passkey_invalid' });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-passkey-status]')?.textContent?.includes('could not be used'));
    await screenshot(page, 'passkey-6-removed-refused');
  });
});

/** The attacker's relay: the passkey options of its own sign-in at the IdP (from the authorization URL). */
async function relayOptions(attacker: HttpClient, authorizationUrl: string): Promise<{ challenge: string; action: string; csrf: string }> {
  const login = (await attacker.follow(await attacker.get(authorizationUrl))).json<{ csrf: string; next: Record<string, string> }>();
  const options = (await attacker.get(login.next.passkeyOptions!)).json<{ challenge: string }>();
  return { challenge: options.challenge, action: login.next.passkey!, csrf: login.csrf };
}

/** The phishing page: navigator.credentials.get for a challenge and RP ID, the result as WebAuthn JSON. */
const PHISHING_PAGE = `<!doctype html><title>Totally the IdP</title><script>
const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const bytes = (text) => Uint8Array.from(atob(text.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
window.sign = async (challenge, rpId) => {
  try {
    const credential = await navigator.credentials.get({ publicKey: { rpId, challenge: bytes(challenge), userVerification: 'preferred' } });
    const r = credential.response;
    return { id: credential.id, rawId: b64url(credential.rawId), type: credential.type, clientExtensionResults: {},
      response: { clientDataJSON: b64url(r.clientDataJSON), authenticatorData: b64url(r.authenticatorData), signature: b64url(r.signature), userHandle: r.userHandle ? b64url(r.userHandle) : undefined } };
  } catch (error) { return error.name + ': ' + error.message; }
};
</script>`;
