/**
 * Faults under load: steady concurrent sign-ins (as bench/load.ts: one frame, 25 % impostors, ID
 * token verified) against the real IdP on PostgreSQL, reached through a TCP proxy, while the key
 * custodian is killed (SIGKILL, down ~10 s, then restarted on the same socket and key) and the
 * database is cut (proxy listener closed and every connection destroyed, ~10 s, then reopened),
 * then stalled (the proxy keeps every connection open but holds all bytes, ~15 s, then delivers
 * them: a partitioned network or a frozen server, where nothing is refused).
 * Sign-ups are sent just before, during and after the cuts, and afterwards the database is
 * checked for an account without its template.
 * Per phase: accepted (token), denied (401), unavailable (503), throttled (429), other failures
 * (other status, network error, no answer within 10 s). The bar: 0 wrong acceptances (an impostor
 * with a token, or a token for another sub), 0 lost (every request answered), recovery within
 * seconds of each restore without restarting the IdP.
 * Run: node_modules/.bin/node bench/fault.ts [--concurrency N] [--pg-url URL] [--schedule KILL,RESTART,CUT,RESTORE,STALL,RESUME,END (seconds)]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { jpeg, people } from '../support/parts.ts';
import {
  DEFAULT_PG_URL, countBy, enroll, enrollAll, formatCounts, ms, privateSchema, relyingParty, signInOnce, startIdpProcess, startTcpProxy,
  type Attempt, type IntegrityReport,
} from './lib/harness.ts';
import { renderTable, type Table } from './lib/table.ts';

export interface FaultOptions {
  concurrency?: number;
  pgUrl?: string;
  /**
   * Seconds: when the custodian is killed and restarted, when the database is cut and restored,
   * when it stops answering (stall) and answers again, the end.
   */
  schedule?: Schedule;
  log?: (line: string) => void;
}

interface Signup {
  username: string;
  at: number;
  end?: number;
  status?: number;
  code?: string;
  account?: boolean;
}

export interface Schedule { custodianKill: number; custodianRestart: number; dbCut: number; dbRestore: number; dbStall: number; dbResume: number; end: number }
const DEFAULT_SCHEDULE: Schedule = { custodianKill: 15, custodianRestart: 25, dbCut: 40, dbRestore: 50, dbStall: 65, dbResume: 80, end: 95 };

export async function runFaultBench(options: FaultOptions = {}): Promise<{ tables: Table[]; attempts: Attempt[] }> {
  const concurrency = options.concurrency ?? 4;
  const plan = options.schedule ?? DEFAULT_SCHEDULE;
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'faceid-bench-fault-'));
  const baseUrl = options.pgUrl ?? DEFAULT_PG_URL;
  const pgTarget = new URL(baseUrl);
  const proxy = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  const schema = await privateSchema(baseUrl);
  const idp = await startIdpProcess({ databaseUrl: schema.url(proxy.port), dir });
  const events: Array<{ name: string; t: number }> = [];
  const attempts: Attempt[] = [];
  const signups: Signup[] = [];
  const readyz: Array<{ t: number; state: string }> = [];
  let integrity: IntegrityReport | undefined;
  try {
    const who = await people();
    const genuine = who.a.verify.map(jpeg);
    const impostor = who.b.map(jpeg);
    const enrollFrames = who.a.enroll.map(jpeg);
    const users = Array.from({ length: concurrency }, (_, i) => `fault-${String(i + 1).padStart(2, '0')}`);
    log(`fault: IdP pid ${idp.pid} on PostgreSQL through proxy :${proxy.port} (schema ${schema.schema}); enrolling ${users.length} accounts ...`);
    await enrollAll(idp.url, users, enrollFrames);
    const subs = await idp.accountIds(users);
    const config = await relyingParty(idp);
    // Warm-up: the HE engine, JIT and the pool's connections.
    for (const username of users.slice(0, 2)) {
      await signInOnce({ base: idp.url, config, username, expectedSub: subs[username]!, frame: genuine[0]!, kind: 'genuine', t0: performance.now() });
    }

    const t0 = performance.now();
    const now = () => (performance.now() - t0) / 1000;
    const mark = (name: string) => {
      events.push({ name, t: now() });
      log(`fault: ${now().toFixed(1)} s ${name}`);
    };
    const at = async (seconds: number) => {
      const wait = seconds * 1000 - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    };

    const signupAt = async (seconds: number, username: string) => {
      await at(seconds);
      const record: Signup = { username, at: now() };
      signups.push(record);
      const result = await enroll(idp.url, username, enrollFrames);
      Object.assign(record, { end: now(), status: result.status, code: result.code });
    };

    const load = Promise.all(users.map(async (username) => {
      for (let k = 0; now() < plan.end; k += 1) {
        const isImpostor = k % 4 === 3;
        const attempt = await signInOnce({
          base: idp.url,
          config,
          username,
          expectedSub: subs[username]!,
          frame: isImpostor ? impostor[k % impostor.length]! : genuine[k % genuine.length]!,
          kind: isImpostor ? 'impostor' : 'genuine',
          t0,
        });
        attempts.push(attempt);
        // A client that was refused retries soon (not after the full Retry-After, to see recovery).
        if (attempt.outcome !== 'accepted' && attempt.outcome !== 'denied') await sleep(250);
      }
    }));

    const faults = (async () => {
      await at(plan.custodianKill);
      mark('custodian killed (SIGKILL)');
      await idp.killCustodian();
      await at(plan.custodianRestart);
      mark('custodian restart requested');
      await idp.restartCustodian();
      mark('custodian answering again');
      await at(plan.dbCut);
      mark('database cut (proxy closed, connections destroyed)');
      await proxy.cut();
      await at(plan.dbRestore);
      await proxy.restore();
      mark('database restored (proxy listening again)');
      await at(plan.dbStall);
      proxy.stall();
      mark('database stalled (proxy holds all bytes, connections stay open)');
      await at(plan.dbResume);
      proxy.resume();
      mark('database answering again (held bytes delivered)');
    })();

    // Readiness as an orchestrator would see it: /readyz every second, 3 s probe timeout.
    const readiness = (async () => {
      let last = '';
      while (now() < plan.end) {
        const probeAt = now();
        let state: string;
        try {
          const response = await fetch(new URL('/readyz', idp.url), { signal: AbortSignal.timeout(3000) });
          const body = (await response.json()) as { checks?: Record<string, boolean> };
          state = `${response.status} ${Object.entries(body.checks ?? {}).filter(([, ok]) => !ok).map(([name]) => `${name} down`).join(', ') || 'ready'}`;
        } catch {
          state = 'no answer within 3 s';
        }
        // Stamped when the answer came (or the probe gave up).
        if (state !== last) readyz.push({ t: now(), state });
        last = state;
        await sleep(Math.max(0, 1000 - (now() - probeAt) * 1000));
      }
    })();

    const enrollments = Promise.all([
      signupAt(plan.custodianKill + 3, 'signup-custodian-down'),
      signupAt(plan.dbCut - 1.0, 'signup-cut-minus-1-0s'),
      signupAt(plan.dbCut - 0.6, 'signup-cut-minus-0-6s'),
      signupAt(plan.dbCut - 0.3, 'signup-cut-minus-0-3s'),
      signupAt(plan.dbCut + 3, 'signup-db-down'),
      signupAt(plan.dbRestore + 8, 'signup-after-restore'),
      signupAt(plan.dbStall - 0.3, 'signup-stall-minus-0-3s'),
      signupAt(plan.dbStall + 2, 'signup-db-stalled'),
      signupAt(plan.end - 6, 'signup-after-resume'),
    ]);

    await Promise.all([load, faults, enrollments, readiness]);
    mark('load stopped');
    integrity = await idp.integrity();
    const ids = await idp.accountIds(signups.map((s) => s.username));
    for (const signup of signups) signup.account = ids[signup.username] !== null;
  } finally {
    await idp.close();
    await proxy.close();
    await schema.drop();
  }

  const t = (name: string) => events.find((e) => e.name.startsWith(name))?.t ?? Number.NaN;
  const phases = [
    { name: 'baseline', from: 0, to: t('custodian killed') },
    { name: 'custodian down', from: t('custodian killed'), to: t('custodian answering') },
    { name: 'after custodian restart', from: t('custodian answering'), to: t('database cut') },
    { name: 'database down', from: t('database cut'), to: t('database restored') },
    { name: 'after database restore', from: t('database restored'), to: t('database stalled') },
    { name: 'database stalled', from: t('database stalled'), to: t('database answering') },
    { name: 'after database resumes', from: t('database answering'), to: Number.POSITIVE_INFINITY },
  ];
  const other = (a: Attempt) => a.outcome === 'error' || a.outcome === 'timeout' || a.outcome === 'network';
  const counts: Table = {
    title: `Sign-ins per phase (concurrency ${concurrency}, PostgreSQL through a TCP proxy; an attempt belongs to the phase in which it was answered)`,
    headers: ['phase', 'window s', 'attempts', 'accepted', 'denied (401)', 'unavailable (503)', 'throttled (429)', 'other failures', 'lost (no answer)', 'wrong accepts', 'face POST p50 ms', 'details of 503 / failures'],
    rows: phases.map((phase) => {
      const inPhase = attempts.filter((a) => a.end / 1000 >= phase.from && a.end / 1000 < phase.to);
      const unavailable = inPhase.filter((a) => a.outcome === 'unavailable');
      const failed = inPhase.filter(other);
      return [
        phase.name,
        `${phase.from.toFixed(1)}-${Number.isFinite(phase.to) ? phase.to.toFixed(1) : 'end'}`,
        inPhase.length,
        inPhase.filter((a) => a.outcome === 'accepted').length,
        inPhase.filter((a) => a.outcome === 'denied').length,
        unavailable.length,
        inPhase.filter((a) => a.outcome === 'throttled').length,
        failed.length,
        inPhase.filter((a) => a.outcome === 'timeout' || a.outcome === 'network').length,
        inPhase.filter((a) => a.wrong).length,
        ms(inPhase.flatMap((a) => (a.faceMs !== undefined && (a.outcome === 'accepted' || a.outcome === 'denied') ? [a.faceMs] : []))).p50.toFixed(0),
        formatCounts(countBy([...unavailable, ...failed], (a) => `${a.outcome}:${a.step}:${a.code ?? a.status ?? ''}`)),
      ];
    }),
    notes: [],
  };
  const total = (outcome: Attempt['outcome']) => attempts.filter((a) => a.outcome === outcome).length;
  counts.notes!.push(
    `all phases: ${attempts.length} attempts started ${attempts.length}, answered ${attempts.length - total('timeout') - total('network')}; accepted ${total('accepted')}, denied ${total('denied')}, unavailable ${total('unavailable')}, throttled ${total('throttled')}, other ${attempts.filter(other).length}; wrong acceptances ${attempts.filter((a) => a.wrong).length}`,
    `impostor attempts ${attempts.filter((a) => a.kind === 'impostor').length}: ${formatCounts(countBy(attempts.filter((a) => a.kind === 'impostor'), (a) => a.outcome))}; genuine denied (false rejects) ${attempts.filter((a) => a.kind === 'genuine' && a.outcome === 'denied').length}`,
  );
  const recoveries = [
    { label: 'custodian restart', back: t('custodian answering'), next: t('database cut') },
    { label: 'database restore', back: t('database restored'), next: t('database stalled') },
    { label: 'database resume', back: t('database answering'), next: Number.POSITIVE_INFINITY },
  ];
  for (const { label, back, next } of recoveries) {
    const first = attempts.filter((a) => a.outcome === 'accepted' && a.end / 1000 >= back).sort((a, b) => a.end - b.end)[0];
    const late = attempts.filter((a) => a.start / 1000 >= back + 1 && a.end / 1000 < next && (a.outcome === 'unavailable' || other(a)));
    counts.notes!.push(`after the ${label}: first token ${first ? `${(first.end / 1000 - back).toFixed(1)} s` : 'never'} later; attempts started more than 1 s after it (and answered before the next fault) that were refused or failed: ${late.length}`);
  }

  const timeline: Table = {
    title: 'Fault timeline (seconds from the start of the load) with /readyz as probed every second',
    headers: ['t s', 'event'],
    rows: [...events.map((e) => ({ t: e.t, name: e.name })), ...readyz.map((r) => ({ t: r.t, name: `/readyz: ${r.state}` }))]
      .sort((a, b) => a.t - b.t)
      .map((e) => [e.t.toFixed(1), e.name]),
  };
  const enrollTable: Table = {
    title: 'Sign-ups around the faults (POST /signup, 3 frames of person A)',
    headers: ['sign-up', 'sent at s', 'answered at s', 'answer', 'account row afterwards'],
    rows: signups.sort((a, b) => a.at - b.at).map((s) => [s.username, s.at.toFixed(1), s.end?.toFixed(1) ?? '-', s.status === 303 ? '303 enrolled' : `${s.status} ${s.code ?? ''}`, s.account ? 'yes' : 'no']),
    notes: integrity
      ? [`integrity after the run: ${integrity.accounts} accounts, ${integrity.templates} templates, accounts without a template: ${integrity.accountsWithoutTemplate.length}${integrity.accountsWithoutTemplate.length ? ` (${integrity.accountsWithoutTemplate.join(', ')})` : ''}, templates without an account: ${integrity.templatesWithoutAccount}`,
        `answer and row agree for every sign-up: ${signups.every((s) => (s.status === 303) === s.account) ? 'yes' : `NO (${signups.filter((s) => (s.status === 303) !== s.account).map((s) => s.username).join(', ')})`}`]
      : ['integrity check did not run'],
  };
  const logTable = summariseLog(idp.logFile);
  rmSync(dir, { recursive: true, force: true });
  return { tables: [timeline, counts, enrollTable, logTable], attempts };
}

/** What the IdP logged at warn and above, grouped (messages and error codes only). */
function summariseLog(file: string): Table {
  const groups: Record<string, number> = {};
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no log
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let entry: { level?: number; msg?: string; errorCode?: string; path?: string; err?: { message?: string; code?: string; type?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      groups[`(not JSON) ${line.slice(0, 80)}`] = (groups[`(not JSON) ${line.slice(0, 80)}`] ?? 0) + 1;
      continue;
    }
    const level = entry.level === 60 ? 'fatal' : entry.level === 50 ? 'error' : entry.level === 40 ? 'warn' : String(entry.level);
    const detail = [entry.errorCode, entry.err?.code, entry.err?.message?.slice(0, 80)].filter(Boolean).join(' ');
    const key = `${level}: ${entry.msg ?? ''}${entry.path ? ` ${entry.path.replace(/[A-Za-z0-9_-]{16,}/g, ':id')}` : ''}${detail ? ` (${detail})` : ''}`;
    groups[key] = (groups[key] ?? 0) + 1;
  }
  return {
    title: 'IdP log, warn and above (grouped)',
    headers: ['entry', 'count'],
    rows: Object.entries(groups).sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n]),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { concurrency: { type: 'string' }, 'pg-url': { type: 'string' }, schedule: { type: 'string' } } });
  const schedule = values.schedule?.split(',').map(Number);
  const keys = ['custodianKill', 'custodianRestart', 'dbCut', 'dbRestore', 'dbStall', 'dbResume', 'end'] as const;
  const { tables } = await runFaultBench({
    concurrency: values.concurrency ? Number(values.concurrency) : undefined,
    schedule: schedule?.length === keys.length ? (Object.fromEntries(keys.map((key, i) => [key, schedule[i]!])) as unknown as Schedule) : undefined,
    pgUrl: values['pg-url'] ?? process.env.DATABASE_URL,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(tables.map(renderTable).join('\n\n'));
}
