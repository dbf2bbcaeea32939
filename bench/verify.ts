/**
 * One whole verification, as the IdP performs it: a 640x480 JPEG frame -> face descriptor (worker
 * pool) -> HE match + blind (public key only) -> ticket + judge through the real custodian process
 * -> one bit. p50 and p95 over repeated runs, with the split per stage.
 * Run: node_modules/.bin/node bench/verify.ts [--runs N]
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MATCH_THRESHOLD } from '../src/face/index.ts';
import { createHeEngine } from '../src/he/index.ts';
import { enrollAt } from '../support/custodian.ts';
import { realParts } from '../support/parts.ts';
import { median, percentile, renderTable, type Table } from './lib/table.ts';

export async function runVerifyBench(options: { runs?: number; log?: (line: string) => void } = {}): Promise<Table> {
  const runs = options.runs ?? 40;
  const log = options.log ?? (() => {});
  const parts = await realParts({
    workers: availableParallelism(),
  });
  const { face, custodian } = parts;
  try {
    const he = await createHeEngine();
    const who = parts.people;
    log(`verify: faces from ${who.source}; enrolling ...`);
    const enrolled = await enrollAt(custodian.client, he, await face.enroll(who.a.enroll), 'bench-subject');
    const probes = [...who.a.verify, ...who.b];
    const stages = { face: [] as number[], match: [] as number[], custodian: [] as number[], total: [] as number[] };
    const verdicts = { match: 0, no_match: 0 };
    for (let i = 0; i < runs + 3; i += 1) {
      const frame = probes[i % probes.length]!;
      const t0 = performance.now();
      const probe = await face.probe([frame]);
      const t1 = performance.now();
      const ticket = await custodian.client.ticket(enrolled.subject, enrolled.hash);
      const t2 = performance.now();
      const blinded = he.matchAndBlind(enrolled.template, probe, DEFAULT_MATCH_THRESHOLD, ticket.key);
      const t3 = performance.now();
      const verdict = await custodian.client.judge(ticket.ticket, blinded);
      const t4 = performance.now();
      if (i < 3) continue; // warm-up
      verdicts[verdict] += 1;
      stages.face.push(t1 - t0);
      stages.match.push(t3 - t2);
      stages.custodian.push(t2 - t1 + (t4 - t3));
      stages.total.push(t4 - t0);
    }
    he.close();
    const row = (name: string, values: number[]) => [name, median(values), percentile(values, 95)];
    return {
      title: `One verification, frame -> verdict (${runs} runs, real custodian process)`,
      headers: ['stage', 'p50 ms', 'p95 ms'],
      rows: [
        row('face: decode + detect + descriptor (640x480 JPEG)', stages.face),
        row('HE match + blind (IdP, the subject\'s public key)', stages.match),
        row('custodian: ticket + judge (socket round trips)', stages.custodian),
        row('total', stages.total),
      ],
      notes: [`verdicts: ${verdicts.match} match (same person), ${verdicts.no_match} no match (other person); faces from ${who.source}`],
    };
  } finally {
    await parts.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  console.log(renderTable(await runVerifyBench({ runs: values.runs ? Number(values.runs) : undefined, log: (line) => process.stderr.write(`${line}\n`) })));
}
