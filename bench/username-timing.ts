/**
 * Does the face step take longer for existing usernames than for unknown ones (a timing oracle)?
 * Both now do the same work: a template read, the face work, a match and blind, a custodian
 * ticket and judgement (a decoy for unknown names). Alternating wrong-face attempts against one
 * existing and fresh unknown usernames, same run, medians side by side.
 * Run: node_modules/.bin/node bench/username-timing.ts [--runs N]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HttpClient } from '../support/http-client.ts';
import { startIdp } from '../support/idp.ts';
import { realParts } from '../support/parts.ts';
import { authRequest, registerClient, signUpOverHttp, type InteractionState } from '../support/signin.ts';
import { median, percentile, renderTable, type Table } from './lib/table.ts';

export async function runUsernameTimingBench(options: { runs?: number; log?: (line: string) => void } = {}): Promise<Table> {
  const runs = options.runs ?? 30;
  const log = options.log ?? (() => {});
  const parts = await realParts({ workers: 1 });
  const loose = { maxFailures: 1_000_000, baseLockMs: 1000, maxLockMs: 1000 };
  const idp = await startIdp({ ...parts.parts, rates: { facePerMinute: 1_000_000 }, policies: { face: loose, faceNewDevice: loose, ip: loose } });
  try {
    const { config } = await registerClient(idp, { name: 'Timing RP', firstParty: true });
    const enrolled = await signUpOverHttp(idp.url, 'known-user', parts.enrollFrames);
    if (enrolled.status !== 303) throw new Error(`enrollment failed: ${enrolled.text}`);
    const attempt = async (username: string) => {
      const http = new HttpClient(idp.url);
      const state = (await http.follow(await http.get((await authRequest(config)).url.href))).json<InteractionState>();
      const login = await http.postForm(state.next.login!, { username, csrf: state.csrf });
      const path = new URL(login.location!).pathname;
      const start = performance.now();
      const response = await http.postFrames(path, { csrf: state.csrf }, parts.otherFrames);
      const ms = performance.now() - start;
      if (response.status !== 401) throw new Error(`unexpected ${response.status}`);
      return ms;
    };
    const times = { known: [] as number[], unknown: [] as number[] };
    log(`username timing: ${runs} attempts each, alternating ...`);
    for (let i = 0; i < runs + 3; i += 1) {
      // Which goes first alternates, so neither is favoured by whatever the previous one left behind.
      const [known, unknown] = i % 2 === 0
        ? [await attempt('known-user'), await attempt(`nobody-${i}`)]
        : [await attempt(`nobody-${i}`), await attempt('known-user')].reverse() as [number, number];
      if (i < 3) continue; // warm-up
      times.known.push(known);
      times.unknown.push(unknown);
    }
    const row = (name: string, values: number[]) => [name, median(values), percentile(values, 95)];
    return {
      title: `Face step for an existing vs an unknown username (${runs} wrong-face attempts each, interleaved)`,
      headers: ['username', 'p50 ms', 'p95 ms'],
      rows: [row('existing (real template, custodian ticket + judge)', times.known), row('unknown (decoy template, decoy ticket + judge)', times.unknown)],
      notes: [`median difference: ${(median(times.known) - median(times.unknown)).toFixed(1)} ms (before the fix: ~139 vs ~131 ms, the decoy path skipped the template read and the custodian)`],
    };
  } finally {
    await idp.close();
    await parts.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  console.log(renderTable(await runUsernameTimingBench({ runs: values.runs ? Number(values.runs) : undefined, log: (line) => process.stderr.write(`${line}\n`) })));
}
