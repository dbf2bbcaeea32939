/**
 * `npm run bench`: every performance benchmark in one run, printed as markdown tables (medians
 * and p95 of repeated runs). Accuracy is separate (`npm run bench:accuracy`), as are the load and
 * fault runs (`npm run bench:load`, `npm run bench:fault`: they take minutes).
 *   --quick   fewer repetitions (a smoke run)
 */
import { runFaceBench } from './faces.ts';
import { runLivenessBench } from './liveness.ts';
import { renderTable } from './lib/table.ts';
import { runMatchBench } from './match.ts';
import { runOracleCostBench } from './oracle-cost.ts';
import { runUsernameTimingBench } from './username-timing.ts';
import { runSigninBrowserBench } from './signin-browser.ts';
import { runVerifyBench } from './verify.ts';

const quick = process.argv.includes('--quick');
const log = (line: string) => process.stderr.write(`${line}\n`);
const out = (text: string) => process.stdout.write(`${text}\n\n`);

out(`# FaceID-FHE benchmarks (${new Date().toISOString()}, Node ${process.version}, ${(await import('node:os')).availableParallelism()} cores)`);

log('1/7 matching: ours vs the CKKS baseline ...');
out(renderTable(await runMatchBench({ runs: quick ? 100 : 500, log })));

log('2/7 faces: ms per 640x480 frame, single and pooled ...');
out((await runFaceBench({ runs: quick ? 2 : 5, log })).markdown);

log('3/7 one verification, frame -> verdict through the custodian process ...');
out(renderTable(await runVerifyBench({ runs: quick ? 10 : 40, log })));

log('4/7 sign-in in a real browser ...');
const browser = await runSigninBrowserBench({ runs: quick ? 4 : 15, log });
out(browser ? renderTable(browser) : '(browser benchmark skipped: Chromium not found)');

log('5/7 the face step for existing and unknown usernames ...');
out(renderTable(await runUsernameTimingBench({ runs: quick ? 8 : 30, log })));

log('6/7 the custodian as an oracle: what a compromised web tier can read, and how fast ...');
out(renderTable(await runOracleCostBench({ log })));

log('7/7 presentation-attack detection: burst check time, APCER/BPCER, sign-in in Chromium with PAD ...');
const pad = await runLivenessBench({ runs: quick ? 3 : 10, identities: quick ? 4 : 10, browserRuns: quick ? 1 : 3, log });
out(pad ? pad.map(renderTable).join('\n\n') : '(PAD benchmark skipped: ../shared/faces not found)');

