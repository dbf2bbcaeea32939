import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, chromiumPath, scratchDir } from '../../support/browser.ts';
import { fakeParts, type FakeParts } from '../../support/fakes.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { signUpOverHttp } from '../../support/signin.ts';

/**
 * Every page of the operators' console in Chromium, at a laptop's 1280 px and a phone's 390 px:
 * nothing may be wider than the window (document.documentElement.scrollWidth <= innerWidth), the
 * CSP must refuse nothing (no inline script or style on these pages), and each page is saved as a
 * screenshot (the paths are printed) to be looked at. The data is made to fill the pages: users
 * (one locked), clients with long redirect URIs, audit events over the last days (long details).
 */
const skip = browserSkipReason();
if (skip) console.warn(`[e2e] skipping admin console test: ${skip}`);

const OPERATOR = { username: 'operator', password: 'correct horse battery staple' };
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
];

describe.skipIf(skip !== null)('admin console in Chromium', () => {
  let parts: FakeParts;
  let idp: IdpHandle;
  let browser: Browser;
  let userId: string;
  const dir = scratchDir('faceid-admin-screens-');
  const shots: string[] = [];

  beforeAll(async () => {
    parts = await fakeParts();
    // On the embedded default (PGlite): the HTTP tests run the same queries on PostgreSQL.
    idp = await startIdp(parts.parts, { pglite: true, env: { ADMIN_USER: OPERATOR.username, ADMIN_PASSWORD: OPERATOR.password } });
    for (const name of ['alice', 'bob.builder', 'carol_with_a_rather_long_name']) {
      const response = await signUpOverHttp(idp.url, name, parts.enrollFrames, { name: name === 'alice' ? 'Alice Liddell' : '' });
      expect(response.status, response.text).toBe(303);
    }
    const { services } = idp.app;
    const alice = (await services.accounts.findByUsername('alice'))!;
    userId = alice.id;
    await services.accounts.lock((await services.accounts.findByUsername('bob.builder'))!.id, 'reported stolen phone', { actor: 'operator' });
    await services.clients.add({ name: 'Intranet portal with a long name', redirectUris: ['https://intranet.example.com/oauth2/callback/with/a/very/long/path/segment', 'https://intranet.example.com/cb'] });
    await services.clients.add({ name: 'Mobile app', redirectUris: ['com.example.app:/callback'], authMethod: 'none', firstParty: true });
    // Events spread over the last days and hours, of every series the dashboard counts.
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < 160; i += 1) {
      const kind = i % 7 === 0 ? ['lockout', 'face'] : i % 5 === 0 ? ['signin', 'denied'] : i % 11 === 0 ? ['liveness_refused', 'screen_replay'] : ['signin', 'success'];
      rows.push({
        at: new Date(now - (i % 3 === 0 ? i * 3 * 3600_000 : i * 9 * 60_000)),
        type: kind[0], outcome: kind[1], account_id: alice.id, client_id: 'sample-rp', ip: '203.0.113.7',
        detail: JSON.stringify({ acr: 'urn:faceid-fhe:acr:face', amr: ['face'], reason: 'a long detail value that must wrap inside its cell and not widen the page' }),
      });
    }
    await services.db('audit_events').insert(rows);
    browser = await chromium.launch({ executablePath: chromiumPath()!, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await browser?.close();
    await idp?.close();
    await parts?.close();
    if (shots.length) console.log(`[e2e] admin console screenshots:\n${shots.join('\n')}`);
  });

  async function check(page: Page, name: string, viewport: string): Promise<void> {
    const size = await page.evaluate(() => {
      type El = { scrollWidth: number; clientWidth: number; id: string };
      const w = globalThis as unknown as { innerWidth: number; document: { documentElement: El; querySelectorAll(selector: string): Iterable<El & { querySelector(s: string): El | null }> } };
      // Tables wrap their cells to fit the card: none needs its scroll bar at these widths.
      const tables = [...w.document.querySelectorAll('.table-wrap')].filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1).map((wrap) => wrap.querySelector('table')?.id ?? '?');
      return { scroll: w.document.documentElement.scrollWidth, inner: w.innerWidth, tables };
    });
    const file = join(dir, `admin-${name}-${viewport}.png`);
    await page.screenshot({ path: file, fullPage: true });
    shots.push(file);
    expect(size.scroll, `${name} at ${viewport} overflows horizontally (${file})`).toBeLessThanOrEqual(size.inner);
    expect(size.tables, `${name} at ${viewport}: tables wider than their card (${file})`).toEqual([]);
  }

  for (const viewport of VIEWPORTS) {
    it(`every console page reads without horizontal overflow at ${viewport.width} px`, async () => {
      const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height }, httpCredentials: OPERATOR });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
      });
      const visit = async (path: string, name: string, status = 200) => {
        const response = await page.goto(`${idp.url}${path}`);
        expect(response?.status(), path).toBe(status);
        await check(page, name, viewport.name);
      };
      await visit('/admin', 'dashboard');
      expect(await page.locator('svg.chart').filter({ visible: true }).count()).toBe(8);
      await visit('/admin/users', 'users');
      await visit('/admin/users?q=b', 'users-search');
      await visit(`/admin/users/${userId}`, 'user');
      await visit(`/admin/users/${(await idp.app.services.accounts.findByUsername('bob.builder'))!.id}`, 'user-locked');
      await visit('/admin/clients', 'clients');
      await visit('/admin/keys', 'keys');
      await visit('/admin/audit', 'audit');
      await visit('/admin/audit?type=signin&outcome=denied&username=alice', 'audit-filtered');
      await visit('/admin/audit?from=2020-02-31', 'bad-input', 400);
      // A form in the browser: register a client; its secret is shown once.
      await page.goto(`${idp.url}/admin/clients`);
      await page.fill('#name', `Browser-registered ${viewport.name}`);
      await page.fill('#redirect_uris', 'https://rp.example/callback');
      await Promise.all([page.waitForURL(`${idp.url}/admin/clients`), page.click('#register button[type=submit]')]);
      expect(await page.locator('#client-secret').count()).toBe(1);
      await check(page, 'client-registered', viewport.name);
      expect(violations).toEqual([]);
      await context.close();
    });
  }
});
