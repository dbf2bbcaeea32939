/**
 * One whole verification, as the IdP performs it: a 640x480 JPEG frame -> face descriptor (worker
 * pool) -> HE match + blind (public key only) -> ticket + judge through the real custodian process
 * -> one bit. p50 and p95 over repeated runs, with the split per stage.
 * Run: node_modules/.bin/node bench/verify.ts [--runs N]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnCustodian } from '../src/custodian/index.ts';
import { createFaceEngine, DEFAULT_MATCH_THRESHOLD } from '../src/face/index.ts';
import { createHeEngine } from '../src/he/index.ts';
import { people } from '../test/support/parts.ts';
import { median, percentile, renderTable, type Table } from './lib/table.ts';

export async function runVerifyBench(options: { runs?: number; log?: (line: string) => void } = {}): Promise<Table> {
  const runs = options.runs ?? 40;
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'faceid-bench-verify-'));
  const custodian = await spawnCustodian({
    keyDir: join(dir, 'keys'),
    socketPath: join(dir, 'custodian.sock'),
    sharedSecret: randomBytes(32).toString('base64url'),
    demo: true,
    env: { CUSTODIAN_RATE_SUBJECT_PER_MINUTE: '10000', CUSTODIAN_RATE_SUBJECT_PER_HOUR: '100000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '100000', CUSTODIAN_LOG_LEVEL: 'warn' },
  });
  const face = await createFaceEngine();
  try {
    const key = await custodian.client.publicKey();
    const he = await createHeEngine({ params: key.paramsVersion, publicKey: key.publicKey, keyId: key.keyId });
    const who = await people();
    log(`verify: faces from ${who.source}; enrolling ...`);
    const template = he.encryptTemplate(await face.enroll(who.a.enroll));
    const probes = [...who.a.verify, ...who.b];
    const stages = { face: [] as number[], match: [] as number[], custodian: [] as number[], total: [] as number[] };
    const verdicts = { match: 0, no_match: 0 };
    for (let i = 0; i < runs + 3; i += 1) {
      const frame = probes[i % probes.length]!;
      const t0 = performance.now();
      const probe = await face.probe([frame]);
      const t1 = performance.now();
      const blinded = he.matchAndBlind(template, probe, DEFAULT_MATCH_THRESHOLD);
      const t2 = performance.now();
      const ticket = await custodian.client.issueTicket('bench-subject');
      const verdict = await custodian.client.judge(ticket, blinded);
      const t3 = performance.now();
      if (i < 3) continue; // warm-up
      verdicts[verdict] += 1;
      stages.face.push(t1 - t0);
      stages.match.push(t2 - t1);
      stages.custodian.push(t3 - t2);
      stages.total.push(t3 - t0);
    }
    he.close();
    const row = (name: string, values: number[]) => [name, median(values), percentile(values, 95)];
    return {
      title: `One verification, frame -> verdict (${runs} runs, real custodian process)`,
      headers: ['stage', 'p50 ms', 'p95 ms'],
      rows: [
        row('face: decode + detect + descriptor (640x480 JPEG)', stages.face),
        row('HE match + blind (IdP, public key)', stages.match),
        row('custodian: ticket + judge (socket round trips)', stages.custodian),
        row('total', stages.total),
      ],
      notes: [`verdicts: ${verdicts.match} match (same person), ${verdicts.no_match} no match (other person); faces from ${who.source}`],
    };
  } finally {
    await face.close();
    await custodian.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  console.log(renderTable(await runVerifyBench({ runs: runsAt >= 0 ? Number(args[runsAt + 1]) : undefined, log: (line) => process.stderr.write(`${line}\n`) })));
}
