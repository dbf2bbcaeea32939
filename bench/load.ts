/**
 * Load: concurrent whole sign-ins over the documented HTTP contract against the real IdP (own
 * child process, real face engine with 2 workers, real custodian process). Each virtual user
 * loops: fresh client (own cookie jar, own client address) -> authorize (code + PKCE + nonce) ->
 * username -> ONE 640x480 JPEG frame -> code -> token exchange with ID token verification by
 * openid-client. Every 4th attempt of a user is an impostor (person B's frame against that user's
 * account, enrolled with person A's face): it must be denied with 401. A user's genuine attempts
 * in between reset the per-username failure count, so no lockout is expected (any 429 is counted).
 * Per concurrency level: sign-ins/s, latency of the whole sign-in and of the face POST, errors
 * by kind, IdP memory and CPU before/after.
 *
 * PAD rows (unless --no-pad, and when ../shared/faces is there): the same levels, same duration,
 * right after each level without PAD, against a second IdP process with LIVENESS=on whose every
 * challenge asks ['turn_right', 'turn_left'] (the factory's generator). Each attempt is a whole
 * genuine sign-in with presentation-attack detection: username -> POST .../face/challenge -> the
 * camera films for the burst's span (2.8 s, waited as a camera would: the server refuses a burst
 * spanning longer than its challenge has existed) -> POST .../face with 15 frames of the
 * performer's turns (bench/lib/bursts.ts, byte-new per attempt, built before the level) -> code ->
 * token. Accounts there are enrolled with a 22-frame burst of the same clip. The comparison table
 * puts both side by side with the ratio PAD / without PAD.
 * Run: node_modules/.bin/node bench/load.ts [--concurrency N[,N...]] [--duration S] [--pg [--pg-url URL]] [--no-pad]
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as oidc from 'openid-client';
import { jpeg, people } from '../support/parts.ts';
import { BURST_ACTIONS, burstSource, type BurstSource } from './lib/bursts.ts';
import {
  BURST_REQUEST_TIMEOUT_MS, DEFAULT_PG_URL, countBy, enrollAll, formatCounts, machineCpu, ms, privateSchema, relyingParty, signInOnce, startIdpProcess,
  type Attempt, type Burst, type IdpProcess, type ProcessStats,
} from './lib/harness.ts';
import { renderTable, type Table } from './lib/table.ts';

export interface LoadOptions {
  levels?: number[];
  durationS?: number;
  pg?: boolean;
  pgUrl?: string;
  /** Every n-th attempt of a virtual user is an impostor (default 4: 25 %). */
  impostorEvery?: number;
  /** Also run every level with presentation-attack detection (default: when ../shared/faces is there). */
  pad?: boolean;
  log?: (line: string) => void;
}

export interface LevelResult {
  concurrency: number;
  /** Against the IdP with LIVENESS=on (a 15-frame burst per sign-in, genuine only). */
  pad: boolean;
  wallS: number;
  attempts: Attempt[];
  before: ProcessStats;
  after: ProcessStats;
  generatorCpuMs: number;
  /** Machine-wide busy CPU during the level (ms, all cores), ours and everyone else's; of which niced. */
  machineBusyMs: number;
  machineNiceMs: number;
  loadavg: number;
}

const mem = (s: ProcessStats) => `${s.rssMb.toFixed(0)} / ${s.heapUsedMb.toFixed(0)}`;
/** The right outcome: a genuine attempt gets a verified ID token, an impostor a 401. */
const isRight = (a: Attempt) => a.outcome === (a.kind === 'genuine' ? 'accepted' : 'denied');
const isToken = (a: Attempt) => a.kind === 'genuine' && a.outcome === 'accepted';
/** Sign-ins per second: attempts with the right outcome per second of the run. */
const rate = (run: { attempts: Attempt[]; wallS: number }) => run.attempts.filter(isRight).length / run.wallS;
/** Latency of the whole sign-in, over the genuine attempts that got a token. */
const signInMs = (attempts: Attempt[]) => ms(attempts.filter(isToken).map((a) => a.totalMs));
/** The same without the camera's filming (PAD): what the IdP and the network add. */
const serverMs = (attempts: Attempt[]) => ms(attempts.filter(isToken).map((a) => a.totalMs - (a.filmingMs ?? 0)));
const faceMs = (attempts: Attempt[]) => ms(attempts.flatMap((a) => (a.faceMs === undefined ? [] : [a.faceMs])));
const p50p95 = (m: { p50: number; p95: number }) => `${m.p50.toFixed(0)} / ${m.p95.toFixed(0)}`;
const label = (r: LevelResult) => (r.pad ? `${r.concurrency} PAD` : r.concurrency);
/**
 * CPU of the IdP process and of its custodian, ms per attempt with the right outcome: the cost of
 * a sign-in including the work spent on attempts that failed (a burst refused with 503 when the
 * face queue is full may already have had some of its frames analysed).
 */
const cpuPerSignIn = (r: LevelResult) => (r.after.cpuMs - r.before.cpuMs + r.after.custodianCpuMs - r.before.custodianCpuMs) / r.attempts.filter(isRight).length;

/** One IdP under load: its process, its relying party, its accounts' ids, and what each attempt presents. */
interface Target {
  idp: IdpProcess;
  config: oidc.Configuration;
  subs: Record<string, string | null>;
  pad: boolean;
}

export async function runLoadBench(options: LoadOptions = {}): Promise<{ tables: Table[]; levels: LevelResult[] }> {
  const levels = options.levels ?? [1, 2, 4, 8, 16];
  const durationMs = (options.durationS ?? 30) * 1000;
  const impostorEvery = options.impostorEvery ?? 4;
  const log = options.log ?? (() => {});
  const bursts: BurstSource | undefined = options.pad === false ? undefined : burstSource();
  if (options.pad !== false && !bursts) log('load: ../shared/faces/video not found (set FACES_DIR); PAD rows skipped');
  const dir = mkdtempSync(join(tmpdir(), 'faceid-bench-load-'));
  const padDir = bursts ? mkdtempSync(join(tmpdir(), 'faceid-bench-load-pad-')) : undefined;
  const schema = options.pg ? await privateSchema(options.pgUrl ?? DEFAULT_PG_URL) : undefined;
  const padSchema = options.pg && bursts ? await privateSchema(options.pgUrl ?? DEFAULT_PG_URL) : undefined;
  const idp = await startIdpProcess({ databaseUrl: schema?.url(), dir });
  let padIdp: IdpProcess | undefined;
  const results: LevelResult[] = [];
  let source = '';
  try {
    const who = await people();
    source = who.source;
    const genuine = who.a.verify.map(jpeg);
    const impostor = who.b.map(jpeg);
    // At least two accounts: the warm-up runs at concurrency 2 whatever the levels are.
    const users = Array.from({ length: Math.max(2, ...levels) }, (_, i) => `load-${String(i + 1).padStart(2, '0')}`);
    log(`load: IdP pid ${idp.pid} on ${idp.database}; faces from ${source}; enrolling ${users.length} accounts with person A's face ...`);
    await enrollAll(idp.url, users, who.a.enroll.map(jpeg));
    const plain: Target = { idp, config: await relyingParty(idp), subs: await idp.accountIds(users), pad: false };
    let withPad: Target | undefined;
    if (bursts) {
      padIdp = await startIdpProcess({ databaseUrl: padSchema?.url(), dir: padDir!, liveness: BURST_ACTIONS });
      log(`load: PAD IdP pid ${padIdp.pid} (LIVENESS=on, challenge ${BURST_ACTIONS.join(', ')}); enrolling ${users.length} accounts with the performer's turns from ${bursts.clip} (one 22-frame burst each) ...`);
      await enrollAll(padIdp.url, users, () => bursts.signUp());
      withPad = { idp: padIdp, config: await relyingParty(padIdp), subs: await padIdp.accountIds(users), pad: true };
    }

    const runLevel = async (target: Target, concurrency: number, durationMs: number) => {
      // PAD: each virtual user's bursts, made before the clock starts. An attempt that reaches
      // the camera films for the burst's span, so no user can use more than this many.
      const pools: Burst[][] = target.pad
        ? Array.from({ length: concurrency }, () => Array.from({ length: Math.ceil(durationMs / bursts!.signInSpanMs) + 2 }, () => bursts!.signIn()))
        : [];
      const t0 = performance.now();
      const attempts: Attempt[] = [];
      await Promise.all(Array.from({ length: concurrency }, async (_, v) => {
        const username = users[v]!;
        const common = { base: target.idp.url, config: target.config, username, expectedSub: target.subs[username]!, t0 };
        for (let k = 0; performance.now() - t0 < durationMs; k += 1) {
          if (target.pad) {
            const pool = pools[v]!;
            const burst = () => {
              const next = pool.pop();
              if (!next) throw new Error('burst pool ran out'); // cannot happen: see the pool's size
              return next;
            };
            attempts.push(await signInOnce({ ...common, kind: 'genuine', burst }));
            continue;
          }
          const isImpostor = k % impostorEvery === impostorEvery - 1;
          attempts.push(await signInOnce({
            ...common,
            frame: isImpostor ? impostor[k % impostor.length]! : genuine[k % genuine.length]!,
            kind: isImpostor ? 'impostor' : 'genuine',
          }));
        }
      }));
      return { attempts, wallS: (performance.now() - t0) / 1000 };
    };

    for (const target of withPad ? [plain, withPad] : [plain]) {
      log(`load: warm-up${target.pad ? ' with PAD' : ''} (3 s at concurrency 2, not measured) ...`);
      const warm = await runLevel(target, 2, 3_000);
      const warmBad = warm.attempts.filter((a) => !isRight(a));
      if (warmBad.length) log(`load: warm-up had ${warmBad.length} unexpected outcomes: ${formatCounts(countBy(warmBad, (a) => `${a.kind} ${a.outcome} ${a.code ?? ''}`))}`);
    }

    const measure = async (target: Target, concurrency: number): Promise<LevelResult> => {
      const before = await target.idp.stats();
      const avg = loadavg()[0]!;
      const cpu0 = process.cpuUsage();
      const machine0 = machineCpu();
      const run = await runLevel(target, concurrency, durationMs);
      const cpu = process.cpuUsage(cpu0);
      const machine1 = machineCpu();
      const after = await target.idp.stats();
      const level: LevelResult = {
        concurrency, pad: target.pad, wallS: run.wallS, attempts: run.attempts, before, after, generatorCpuMs: (cpu.user + cpu.system) / 1000,
        machineBusyMs: machine1.busyMs - machine0.busyMs, machineNiceMs: machine1.niceMs - machine0.niceMs, loadavg: avg,
      };
      log(`load: concurrency ${concurrency}${target.pad ? ' with PAD' : ''}: ${run.attempts.length} attempts in ${run.wallS.toFixed(1)} s, ${rate(run).toFixed(2)} sign-ins/s, p95 ${signInMs(run.attempts).p95.toFixed(0)} ms`);
      return level;
    };
    // Each level without PAD, then the same level with PAD: the two see the same machine (shared, its load drifts).
    for (const concurrency of levels) {
      results.push(await measure(plain, concurrency));
      if (withPad) results.push(await measure(withPad, concurrency));
    }
  } finally {
    await idp.close();
    await padIdp?.close();
    await schema?.drop();
    await padSchema?.drop();
    rmSync(dir, { recursive: true, force: true });
    if (padDir) rmSync(padDir, { recursive: true, force: true });
  }

  const padRows = results.some((r) => r.pad);
  const latency: Table = {
    title: `Concurrent sign-ins over the HTTP contract, ${idp.database === 'postgres' ? 'PostgreSQL 15' : 'embedded PGlite'} (${durationMs / 1000} s per level, one frame each, ${Math.round(100 / impostorEvery)} % impostors${padRows ? `; PAD rows: a ${bursts!.signInFrames}-frame burst each, genuine only` : ''})`,
    headers: ['concurrency', 'sign-ins/s', 'tokens/s', 'sign-in p50 / p95 / p99 ms', 'face POST p50 / p95 / p99 ms', 'attempts', 'accepted', 'denied', 'wrong accept', 'false reject', 'errors'],
    rows: results.map((r) => {
      const tokens = r.attempts.filter(isToken);
      const whole = signInMs(r.attempts);
      const face = faceMs(r.attempts);
      const errors = r.attempts.filter((a) => a.outcome !== 'accepted' && a.outcome !== 'denied');
      return [
        label(r),
        rate(r),
        tokens.length / r.wallS,
        `${whole.p50.toFixed(0)} / ${whole.p95.toFixed(0)} / ${whole.p99.toFixed(0)}`,
        `${face.p50.toFixed(0)} / ${face.p95.toFixed(0)} / ${face.p99.toFixed(0)}`,
        r.attempts.length,
        r.attempts.filter((a) => a.outcome === 'accepted').length,
        r.attempts.filter((a) => a.outcome === 'denied').length,
        r.attempts.filter((a) => a.wrong).length,
        r.attempts.filter((a) => a.kind === 'genuine' && a.outcome === 'denied').length,
        formatCounts(countBy(errors, (a) => `${a.outcome}:${a.step}:${a.code ?? a.status ?? ''}`)),
      ];
    }),
    notes: [
      'sign-ins/s: attempts with the right outcome (genuine -> verified ID token, impostor -> 401) per second of the level; tokens/s: genuine ones only',
      'sign-in latency: genuine attempts, authorize -> verified ID token (5 requests to the IdP + the token exchange); face POST: all attempts, frame upload -> 303/401',
      `faces from ${source}; each attempt from its own client address (X-Forwarded-For, TRUST_PROXY=true); IdP in its own process (face workers: 2), custodian in its own process, load generator in this process, all on ${cpus().length} cores`,
      ...(padRows ? [`PAD rows ("N PAD"): a second IdP process with LIVENESS=on; sign-in latency includes the camera's ${(bursts!.signInSpanMs / 1000).toFixed(1)} s of filming between the challenge and the burst; face POST is the burst's POST (${bursts!.signInFrames} frames of ${bursts!.clip}, 640x360) -> 303; a PAD sign-in's requests wait up to ${BURST_REQUEST_TIMEOUT_MS / 1000} s (the server's request timeout), the others 10 s`] : []),
    ],
  };
  const resources: Table = {
    title: 'Memory and CPU per level (IdP process: event loop + face worker threads)',
    headers: ['concurrency', 'IdP RSS / heap MB before', 'after', 'IdP CPU ms per sign-in', 'custodian CPU ms per sign-in', 'load generator CPU ms per sign-in', 'CPU of 2 cores: ours / other normal-priority / niced', 'load avg at start'],
    rows: results.map((r) => {
      const n = r.attempts.length;
      const idpCpu = r.after.cpuMs - r.before.cpuMs;
      const custodianCpu = r.after.custodianCpuMs - r.before.custodianCpuMs;
      const ours = idpCpu + custodianCpu + r.generatorCpuMs;
      return [
        label(r),
        mem(r.before),
        mem(r.after),
        idpCpu / n,
        custodianCpu / n,
        r.generatorCpuMs / n,
        [ours, r.machineBusyMs - r.machineNiceMs - ours, r.machineNiceMs].map((cpuMs) => `${Math.max(0, (cpuMs / (r.wallS * 1000 * cpus().length)) * 100).toFixed(0)} %`).join(' / '),
        r.loadavg.toFixed(2),
      ];
    }),
    notes: [
      `custodian RSS ${results.at(-1)?.after.custodianRssMb.toFixed(0)} MB at the end; CPU (from /proc/stat): "ours" is the IdP, the custodian and the load generator; "other" is everything else at normal priority on the shared machine (PostgreSQL's backends count here), "niced" is background work at lowered priority, which yields to ours`,
    ],
  };
  const under = results.filter((r) => !r.pad && signInMs(r.attempts).p95 < 2000);
  const best = under.reduce<LevelResult | undefined>((top, r) => (!top || rate(r) > rate(top) ? r : top), undefined);
  if (best) {
    latency.notes!.push(`highest throughput with sign-in p95 < 2 s (without PAD): ${rate(best).toFixed(2)} sign-ins/s at concurrency ${best.concurrency}`);
  } else {
    latency.notes!.push('no level without PAD kept the sign-in p95 under 2 s');
  }
  const tables = [latency];
  if (padRows) tables.push(comparison(results, bursts!, impostorEvery));
  tables.push(resources);
  return { tables, levels: results };
}

/** Each level without PAD and with PAD, side by side, with the ratios (PAD / without). */
function comparison(results: LevelResult[], bursts: BurstSource, impostorEvery: number): Table {
  const pairs = results.filter((r) => !r.pad).flatMap((off) => {
    const on = results.find((r) => r.pad && r.concurrency === off.concurrency);
    return on ? [{ off, on }] : [];
  });
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}`;
  const best = (pad: boolean) => Math.max(...results.filter((r) => r.pad === pad).map(rate));
  const met = pairs.filter(({ off, on }) => rate(on) >= 0.5 * rate(off)).map(({ off }) => off.concurrency);
  return {
    title: 'Sign-ins per second with presentation-attack detection vs without, same run, same concurrency and duration',
    headers: [
      'concurrency', 'sign-ins/s without PAD', 'with PAD', 'PAD / without',
      'sign-in p50 / p95 ms without', 'with PAD', 'with PAD minus the filming', 'p50 PAD / without',
      'face POST p50 / p95 ms without', 'burst POST with PAD',
      'IdP + custodian CPU ms per right outcome without', 'with PAD', 'CPU without / PAD',
      'PAD attempts', 'PAD errors',
    ],
    rows: pairs.map(({ off, on }) => [
      off.concurrency, rate(off), rate(on), ratio(rate(on), rate(off)),
      p50p95(signInMs(off.attempts)), p50p95(signInMs(on.attempts)), p50p95(serverMs(on.attempts)), ratio(signInMs(on.attempts).p50, signInMs(off.attempts).p50),
      p50p95(faceMs(off.attempts)), p50p95(faceMs(on.attempts)),
      cpuPerSignIn(off), cpuPerSignIn(on), ratio(cpuPerSignIn(off), cpuPerSignIn(on)),
      on.attempts.length,
      formatCounts(countBy(on.attempts.filter((a) => !isRight(a)), (a) => `${a.outcome}:${a.step}:${a.code ?? a.status ?? ''}`)),
    ]),
    notes: [
      `without PAD: one frame per sign-in, ${Math.round(100 / impostorEvery)} % impostors (a 401 is a right outcome and costs the same face step); with PAD: a ${bursts.signInFrames}-frame burst per sign-in (each frame through the face engine, then the 3 most frontal matched), genuine only`,
      `with PAD a sign-in waits ${(bursts.signInSpanMs / 1000).toFixed(1)} s for the camera (the burst's span; the server refuses a burst spanning longer than its challenge has existed): that bounds one user to under ${(1000 / bursts.signInSpanMs).toFixed(2)} sign-ins/s at any server speed; "minus the filming" is the rest of the sign-in (the IdP's work and queueing)`,
      'CPU without / PAD: the IdP process (event loop + 2 face workers) and the custodian per attempt with the right outcome (failed attempts\' work included); where the server is the bottleneck (the machine\'s 2 cores busy), the throughput ratio tends to it',
      `target (sign-ins/s with PAD at least half of without): ${met.length ? `met at concurrency ${met.join(', ')}` : 'not met at any level'}; best level: ${best(false).toFixed(2)} sign-ins/s without PAD, ${best(true).toFixed(2)} with PAD (${ratio(best(true), best(false))})`,
    ],
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ allowNegative: true, options: { concurrency: { type: 'string' }, duration: { type: 'string' }, pg: { type: 'boolean', default: false }, 'pg-url': { type: 'string' }, pad: { type: 'boolean', default: true } } });
  const { tables } = await runLoadBench({
    levels: values.concurrency ? values.concurrency.split(',').map(Number) : undefined,
    durationS: values.duration ? Number(values.duration) : undefined,
    pg: values.pg,
    pgUrl: values['pg-url'] ?? process.env.DATABASE_URL,
    pad: values.pad,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(tables.map(renderTable).join('\n\n'));
}
