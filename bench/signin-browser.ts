/**
 * Sign-in timing in a real browser: Debian's Chromium with a fake camera, the sample relying
 * party, the IdP with the real face engine, HE and custodian process. Each run is a fresh browser
 * context (no session): click "Sign in with FaceID-FHE" -> username -> camera (one frame) ->
 * code -> token exchange -> the RP's page with the verified ID token. The automation answers
 * instantly, so this is the machine's time, not the user's.
 * Run: node_modules/.bin/node bench/signin-browser.ts [--runs N]
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromiumPath, fakeCamera, launchWithCamera, scratchDir } from '../support/browser.ts';
import { signUpOverHttp } from '../support/signin.ts';
import { startIdp } from '../support/idp.ts';
import { realParts } from '../support/parts.ts';
import { startRelyingParty } from '../support/rp.ts';
import { median, percentile, renderTable, type Table } from './lib/table.ts';

export async function runSigninBrowserBench(options: { runs?: number; log?: (line: string) => void } = {}): Promise<Table | undefined> {
  const runs = options.runs ?? 15;
  const log = options.log ?? (() => {});
  if (!chromiumPath()) {
    log('signin-browser: Chromium not found; skipped');
    return undefined;
  }
  const parts = await realParts({ workers: 2 });
  const idp = await startIdp({ ...parts.parts, captureFrames: { signIn: 1, enroll: 5 } });
  const rp = await startRelyingParty(idp);
  // The sample RP's consent is a one-time screen; mark it first-party so every run times the same steps.
  await idp.database.knex('oidc_clients').where({ client_id: 'sample-rp' }).update({ first_party: true });
  await signUpOverHttp(idp.url, 'bench', parts.enrollFrames);
  const camera = await fakeCamera([parts.people.a.verify[0]!], join(scratchDir('faceid-bench-'), 'same.mjpeg'));
  const browser = await launchWithCamera(camera);
  const total: number[] = [];
  const faceStep: number[] = [];
  try {
    for (let i = 0; i < runs + 2; i += 1) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(rp.url);
      const t0 = performance.now();
      await page.click('#signin');
      await page.fill('input[name=username]', 'bench');
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-capture]:not([disabled])');
      const t1 = performance.now();
      await page.click('[data-capture]');
      await page.waitForSelector('#claims', { timeout: 60_000 });
      const t2 = performance.now();
      const amr = await page.textContent('[data-claim="amr"]');
      if (amr !== '["face"]') throw new Error(`unexpected amr ${amr}`);
      await context.close();
      if (i < 2) continue; // warm-up
      total.push(t2 - t0);
      faceStep.push(t2 - t1);
      log(`run ${i - 1}: ${(t2 - t0).toFixed(0)} ms`);
    }
  } finally {
    await browser.close();
    await rp.close();
    await idp.close();
    await parts.close();
  }
  return {
    title: `Sign-in in a real browser, authorize -> verified ID token (${runs} runs, one frame)`,
    headers: ['span', 'p50 ms', 'p95 ms'],
    rows: [
      ['click "Sign in" -> RP shows verified ID token', median(total), percentile(total, 95)],
      ['of which: capture -> face match -> code -> token -> RP page', median(faceStep), percentile(faceStep, 95)],
    ],
    notes: ['includes redirects, the username page, camera start-up, one 640x480 frame, HE match, custodian judge, code exchange and ID token verification by openid-client'],
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const table = await runSigninBrowserBench({ runs: values.runs ? Number(values.runs) : undefined, log: (line) => process.stderr.write(`${line}\n`) });
  if (table) console.log(renderTable(table));
}
