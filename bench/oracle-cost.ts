/**
 * What a compromised web tier can still get out of the custodian, measured: the review's
 * extraction attack run to completion against a custodian WITHOUT budgets (how many judge calls
 * reading one template takes), next to the production budgets (how many it gets per hour and per
 * day), giving the time to read one template. Run: node_modules/.bin/node bench/oracle-cost.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_BUDGET, spawnCustodian } from '../src/custodian/index.ts';
import { createHeEngine, quantise } from '../src/he/index.ts';
import { createOracleAttacker } from '../support/oracle.ts';
import { enrollAt } from '../support/custodian.ts';
import { randomDescriptor } from '../support/he-keys.ts';
import { renderTable, type Table } from './lib/table.ts';

export async function runOracleCostBench(options: { log?: (line: string) => void } = {}): Promise<Table> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'faceid-oracle-'));
  const custodian = await spawnCustodian({
    keyDir: join(dir, 'keys'),
    socketPath: join(dir, 'c.sock'),
    sharedSecret: randomBytes(32).toString('base64url'),
    demo: true,
    env: { CUSTODIAN_LOG_LEVEL: 'silent', CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '100000', CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '100000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '1000000', CUSTODIAN_BURST_ALERT_COUNT: '100000' },
  });
  const engine = await createHeEngine();
  const attacker = await createOracleAttacker(custodian.client);
  try {
    // A descriptor like the face model's: unit norm, 128 elements (|x_i| <= 0.4 on LFW), so the
    // attacker can search t_i = round(64 x_i) in [-32, 32].
    const face = randomDescriptor(128, Math.random, 0.18, 1);
    const victim = await enrollAt(custodian.client, engine, face);
    const truth = Array.from(quantise(face));
    log('oracle: reading all 128 coefficients with no budget ...');
    let calls = 0;
    const started = performance.now();
    const read: number[] = [];
    for (let i = 0; i < 128; i += 1) {
      let lo = -32;
      let hi = 32;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        calls += 1;
        if (await attacker.ask(victim, i, mid)) hi = mid;
        else lo = mid + 1;
      }
      read.push(-lo);
    }
    const seconds = (performance.now() - started) / 1000;
    const exact = read.every((v, i) => v === truth[i]);
    const signs = 128; // one call per coefficient: [t_i >= 0]
    const budget = DEFAULT_BUDGET;
    const days = (queries: number) => (queries / budget.subjectPerDay).toFixed(1);
    return {
      title: 'What a compromised web tier gets from the custodian (one template)',
      headers: ['attack', 'judge calls', 'without budgets', `with the defaults (${budget.subjectPerHour}/hour, ${budget.subjectPerDay}/day per subject)`],
      rows: [
        ['exact template (binary search per coefficient, t_i in [-32, 32])', calls, `${seconds.toFixed(1)} s, ${exact ? 'exact' : 'NOT exact'}`, `${days(calls)} days`],
        ['sign pattern only (one bit per coefficient)', signs, '-', `${days(signs)} days`],
        ['under subjects it registers itself', '-', 'noise: decrypted under the wrong key', 'no information at any rate'],
      ],
      notes: [
        `the first refusal (subject_budget_exhausted) and bursts of ${budget.burstCount} tickets in ${budget.burstWindowMs / 60_000} min raise alerts in the custodian's audit log and metrics`,
        `new registrations: at most ${budget.registrationsPerHour}/hour, ${budget.registrationsPerDay}/day overall, ${budget.subjectRegistrationsPerDay}/day per subject`,
      ],
    };
  } finally {
    attacker.close();
    engine.close();
    await custodian.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(renderTable(await runOracleCostBench({ log: (line) => process.stderr.write(`${line}\n`) })));
}
