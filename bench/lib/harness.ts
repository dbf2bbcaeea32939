/**
 * Shared parts of the load and fault benchmarks (bench/load.ts, bench/fault.ts):
 *
 * - the IdP in its own child process (this file, run with FACEID_BENCH_IDP_CHILD=1): the real app
 *   wired as src/main.ts wires it (connectDatabase with the production pool settings, migrations,
 *   createApp, an HTTP server with main.ts's timeouts) on the real face engine and custodian
 *   process of test/support/parts.ts, so that its memory and CPU are measured apart from the load
 *   generator's; the parent drives it over IPC (stats, kill/restart the custodian, integrity check);
 * - a private schema on PostgreSQL and a TCP proxy in front of it that can be cut and restored;
 * - one sign-in over the documented HTTP contract, timed and classified.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as oidc from 'openid-client';
import pg from 'pg';
import type { Action } from '../../src/liveness/index.ts';
import { HttpClient, type Response } from '../../support/http-client.ts';
import { REDIRECT_URI, authRequest, discover, exchange, type Frame } from '../../support/signin.ts';
import { median, percentile } from './table.ts';

const HERE = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The IdP in a child process
// ---------------------------------------------------------------------------------------------

export interface ProcessStats {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** CPU time of the whole IdP process (event loop + face worker threads), ms. */
  cpuMs: number;
  /** The custodian process: resident memory and CPU time (from /proc), when readable. */
  custodianRssMb: number;
  custodianCpuMs: number;
}

export interface IntegrityReport {
  accounts: number;
  templates: number;
  /** Account rows without their face template (a half-written enrollment). Must be 0. */
  accountsWithoutTemplate: string[];
  templatesWithoutAccount: number;
}

export interface IdpProcess {
  url: string;
  clientId: string;
  clientSecret: string;
  pid: number;
  database: 'postgres' | 'pglite';
  logFile: string;
  stats(): Promise<ProcessStats>;
  killCustodian(): Promise<void>;
  restartCustodian(): Promise<void>;
  /** username -> account id (the ID token's `sub`), null when there is no such account. */
  accountIds(usernames: string[]): Promise<Record<string, string | null>>;
  integrity(): Promise<IntegrityReport>;
  close(): Promise<void>;
}

interface ChildRequest {
  id: number;
  op: 'stats' | 'killCustodian' | 'restartCustodian' | 'accountIds' | 'integrity' | 'close';
  usernames?: string[];
}

/** Per-IP rates raised so that the load generator is not rate-limited (failure lockouts unchanged). */
export const BENCH_RATES = { facePerMinute: 1_000_000, signupPerHour: 1_000_000, totpPerMinute: 1_000_000 };

/**
 * `liveness`: presentation-attack detection on (LIVENESS=on), every challenge asking for these
 * actions (the factory's generator, as the tests fix it), so that a recorded burst answers it;
 * without it LIVENESS=off (one frame per sign-in).
 */
export async function startIdpProcess(options: { databaseUrl?: string; workers?: number; logLevel?: string; dir: string; liveness?: readonly Action[] }): Promise<IdpProcess> {
  const logFile = join(options.dir, 'idp.log');
  const log = createWriteStream(logFile);
  const child = fork(HERE, [], {
    env: {
      ...process.env,
      FACEID_BENCH_IDP_CHILD: '1',
      BENCH_DATABASE_URL: options.databaseUrl ?? '',
      BENCH_FACE_WORKERS: String(options.workers ?? 2),
      BENCH_LOG_LEVEL: options.logLevel ?? 'warn',
      BENCH_LIVENESS_ACTIONS: options.liveness ? JSON.stringify(options.liveness) : '',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  const ready = await new Promise<{ url: string; clientId: string; clientSecret: string; database: 'postgres' | 'pglite' }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`IdP child did not start in time (see ${logFile})`)), 120_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`IdP child exited during start (${signal ?? code}); see ${logFile}`));
    });
    child.on('message', (message: { type?: string; id?: number; ok?: boolean; value?: unknown; error?: string } & Record<string, unknown>) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message as never);
      } else if (message.type === 'reply' && typeof message.id === 'number') {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) call?.resolve(message.value);
        else call?.reject(new Error(message.error ?? 'IdP child error'));
      }
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', (code, signal) => {
    for (const call of pending.values()) call.reject(new Error(`IdP child exited (${signal ?? code})`));
    pending.clear();
  });
  const call = <T>(op: ChildRequest['op'], extra: Partial<ChildRequest> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, op, ...extra } satisfies ChildRequest);
    });
  return {
    ...ready,
    pid: child.pid!,
    logFile,
    stats: () => call<ProcessStats>('stats'),
    killCustodian: () => call<void>('killCustodian'),
    restartCustodian: () => call<void>('restartCustodian'),
    accountIds: (usernames) => call<Record<string, string | null>>('accountIds', { usernames }),
    integrity: () => call<IntegrityReport>('integrity'),
    async close() {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      await call<void>('close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

function procStat(pid: number): { rssMb: number; cpuMs: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    // Fields after the command name: state is field 3; utime and stime are 14 and 15 (clock ticks).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMb: rssKb / 1024, cpuMs: (ticks * 1000) / 100 };
  } catch {
    return { rssMb: Number.NaN, cpuMs: Number.NaN };
  }
}

async function childMain(): Promise<void> {
  // Imported here so that the parent (the load generator) does not load the app at all.
  const { createIdp } = await import('../../src/idp.ts');
  const { loadConfig } = await import('../../src/config/index.ts');
  const { connectDatabase } = await import('../../src/db/index.ts');
  const { createHttpServer } = await import('../../src/http/index.ts');
  const { createLogger } = await import('../../src/shared/index.ts');
  const { realParts } = await import('../../support/parts.ts');

  const parts = await realParts({ workers: Number(process.env.BENCH_FACE_WORKERS) || 2 });
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createHttpServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'faceid-bench-idp-'));
  const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
  // TRUST_PROXY: the load generator gives each sign-in its own client address (X-Forwarded-For),
  // as the users behind a TLS-terminating proxy have (README, Configuration).
  // LIVENESS is on by default: off unless the parent asked for PAD with a fixed challenge.
  const actions = process.env.BENCH_LIVENESS_ACTIONS ? (JSON.parse(process.env.BENCH_LIVENESS_ACTIONS) as Action[]) : undefined;
  const config = loadConfig({ DATA_DIR: dataDir, PORT: String(port), ISSUER: url, LOG_LEVEL: 'silent', TRUST_PROXY: 'true', LIVENESS: actions ? 'on' : 'off', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  // As main.ts builds it (createIdp), on the production pool settings; the database in memory
  // when embedded, so that runs do not leave files behind.
  const database = connectDatabase({ url: config.databaseUrl, dataDir, inMemory: !config.databaseUrl });
  const logger = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'warn', name: 'faceid-idp' });
  const app = await createIdp(config, { logger, database, ...parts.parts, rates: BENCH_RATES, ...(actions ? { liveness: { generate: () => [...actions] } } : {}) });
  handler = app.callback!;
  const client = await app.services.clients.add({ name: 'Load bench RP', redirectUris: [REDIRECT_URI], firstParty: true });
  const knex = database.knex;

  const handlers: Record<ChildRequest['op'], (request: ChildRequest) => Promise<unknown>> = {
    async stats() {
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      const custodian = procStat(parts.custodian.pid);
      const mb = (bytes: number) => bytes / 1024 / 1024;
      return {
        rssMb: mb(memory.rss),
        heapUsedMb: mb(memory.heapUsed),
        heapTotalMb: mb(memory.heapTotal),
        externalMb: mb(memory.external),
        cpuMs: (cpu.user + cpu.system) / 1000,
        custodianRssMb: custodian.rssMb,
        custodianCpuMs: custodian.cpuMs,
      } satisfies ProcessStats;
    },
    killCustodian: () => parts.killCustodian(),
    restartCustodian: () => parts.restartCustodian(),
    async accountIds(request) {
      const rows = (await knex('accounts').whereIn('username', request.usernames ?? []).select('id', 'username')) as Array<{ id: string; username: string }>;
      return Object.fromEntries((request.usernames ?? []).map((name) => [name, rows.find((row) => row.username === name)?.id ?? null]));
    },
    async integrity() {
      const [{ accounts }] = (await knex('accounts').count({ accounts: '*' })) as [{ accounts: string | number }];
      const [{ templates }] = (await knex('face_templates').count({ templates: '*' })) as [{ templates: string | number }];
      const orphans = (await knex('accounts as a').leftJoin('face_templates as t', 't.account_id', 'a.id').whereNull('t.account_id').select('a.username')) as Array<{ username: string }>;
      const [{ stray }] = (await knex('face_templates as t').leftJoin('accounts as a', 'a.id', 't.account_id').whereNull('a.id').count({ stray: '*' })) as [{ stray: string | number }];
      return { accounts: Number(accounts), templates: Number(templates), accountsWithoutTemplate: orphans.map((row) => row.username), templatesWithoutAccount: Number(stray) } satisfies IntegrityReport;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await database.close().catch(() => undefined);
      await parts.close();
      rmSync(dataDir, { recursive: true, force: true });
      setImmediate(() => process.exit(0));
    },
  };

  process.on('message', (request: ChildRequest) => {
    handlers[request.op](request).then(
      (value) => process.send!({ type: 'reply', id: request.id, ok: true, value }),
      (error: unknown) => process.send!({ type: 'reply', id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The parent is gone: nothing more to serve (the custodian exits with its IPC channel).
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', url, clientId: client.clientId, clientSecret: client.clientSecret!, database: database.kind });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a private schema, and a TCP proxy that can be cut
// ---------------------------------------------------------------------------------------------

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Creates a private schema; `url(port)` points at it (through a proxy port if given). */
export async function privateSchema(baseUrl: string): Promise<{ schema: string; url(port?: number): string; drop(): Promise<void> }> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  return {
    schema,
    url(port?: number) {
      const url = new URL(baseUrl);
      if (port) {
        url.hostname = '127.0.0.1';
        url.port = String(port);
      }
      url.search = `?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      return url.href;
    },
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

// The database proxy that a fault run cuts and stalls is the tests' own.
export { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';

// ---------------------------------------------------------------------------------------------
// One sign-in over the HTTP contract
// ---------------------------------------------------------------------------------------------

export const REQUEST_TIMEOUT_MS = 10_000;
/**
 * A PAD sign-in's requests (its burst POST: 15 frames through the face engine) wait as long as the
 * server lets a request run (HTTP_REQUEST_TIMEOUT_MS, default 60 s); the camera page sets no limit
 * of its own. With 10 s the generator would give up on bursts the server still checks, and measure
 * its own timeout instead of the server's throughput.
 */
export const BURST_REQUEST_TIMEOUT_MS = 60_000;

/** HttpClient that sends every request from one client address and gives up after `timeoutMs` (10 s). */
export class BenchClient extends HttpClient {
  readonly ip: string;
  readonly timeoutMs: number;

  constructor(base: string, ip: string, timeoutMs = REQUEST_TIMEOUT_MS) {
    super(base);
    this.ip = ip;
    this.timeoutMs = timeoutMs;
  }

  override request(pathOrUrl: string, init: RequestInit & { accept?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(pathOrUrl, { ...init, headers, signal: AbortSignal.timeout(this.timeoutMs) });
  }
}

let addressCounter = 0;
/** A fresh client address per sign-in (10.0.0.1, 10.0.0.2, ...). */
export function nextAddress(): string {
  addressCounter += 1;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}

export async function relyingParty(idp: { url: string; clientId: string; clientSecret: string }): Promise<oidc.Configuration> {
  const config = await discover(idp.url, idp.clientId, idp.clientSecret);
  config.timeout = REQUEST_TIMEOUT_MS / 1000;
  return config;
}

/** A PAD burst: frames answering the challenge, with their capture times (ms, one per frame). */
export interface Burst {
  frames: Frame[];
  times: number[];
}

/**
 * Enrolls every one of `usernames` with the same `frames`, or (LIVENESS=on) each with its own
 * burst from `bursts`; throws at the first that is not enrolled.
 */
export async function enrollAll(base: string, usernames: string[], frames: Frame[] | ((username: string) => Burst)): Promise<void> {
  for (const username of usernames) {
    const result = typeof frames === 'function' ? await enroll(base, username, frames(username)) : await enroll(base, username, frames);
    if (result.status !== 303) throw new Error(`enrollment of ${username} failed: ${result.status} ${result.code}`);
  }
}

/**
 * Enrolls `username` with `frames` over POST /signup, or with a burst answering the sign-up
 * page's challenge (PAD: POST /signup/challenge first, then the frames filmed after it arrived);
 * returns the HTTP status (303 = enrolled).
 */
export async function enroll(base: string, username: string, frames: Frame[] | Burst): Promise<{ status: number; code?: string }> {
  const http = new BenchClient(base, nextAddress(), Array.isArray(frames) ? REQUEST_TIMEOUT_MS : BURST_REQUEST_TIMEOUT_MS);
  try {
    const page = await http.get('/signup');
    if (page.status !== 200) return { status: page.status, code: errorCode(page) };
    const csrf = page.json<{ csrf: string }>().csrf;
    const fields: Record<string, string> = { csrf, username, email: `${username}@example.com`, name: username, consent: 'yes' };
    if (!Array.isArray(frames)) {
      const challenge = await http.postForm('/signup/challenge', { csrf }, 'application/json');
      if (challenge.status !== 200) return { status: challenge.status, code: errorCode(challenge) };
      await sleep(frames.times.at(-1) ?? 0);
      Object.assign(fields, { challenge: challenge.json<{ challenge: string }>().challenge, times: JSON.stringify(frames.times) });
    }
    const response = await http.postFrames('/signup', fields, Array.isArray(frames) ? frames : frames.frames);
    return { status: response.status, code: response.status === 303 ? undefined : errorCode(response) };
  } catch (error) {
    return { status: 0, code: networkKind(error) };
  }
}

export type Outcome =
  /** A verified ID token was issued. */
  | 'accepted'
  /** 401 face_not_matched. */
  | 'denied'
  /** 503 at any step (custodian or database unavailable). */
  | 'unavailable'
  /** 429 too_many_attempts (a lockout) or rate_limited. */
  | 'throttled'
  /** Any other HTTP answer that is not part of the flow (other 4xx, 5xx other than 503). */
  | 'error'
  /** No answer within 10 s (60 s for a PAD sign-in). */
  | 'timeout'
  /** Connection refused/reset, or a body that could not be read. */
  | 'network';

export type Step = 'authorize' | 'username' | 'challenge' | 'face' | 'callback' | 'token';

export interface Attempt {
  kind: 'genuine' | 'impostor';
  username: string;
  /** ms since the run's start. */
  start: number;
  end: number;
  totalMs: number;
  /** The POST of the frame (or of the burst), from sending to the 303/401/503 answer. */
  faceMs?: number;
  /** PAD: the camera's filming between the challenge's answer and the burst POST (the burst's span). */
  filmingMs?: number;
  outcome: Outcome;
  /** Where the attempt ended. */
  step: Step;
  status?: number;
  code?: string;
  /** Set when something was accepted that must not have been (an impostor, or another sub). */
  wrong?: string;
}

function errorCode(response: Response): string | undefined {
  try {
    const body = response.json<{ error?: string }>();
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

function networkKind(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string; name?: string }; code?: string };
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError') return 'timeout';
  return e.cause?.code ?? e.code ?? e.name ?? 'error';
}

function classify(status: number): Outcome {
  if (status === 401) return 'denied';
  if (status === 503) return 'unavailable';
  if (status === 429) return 'throttled';
  return 'error';
}

interface SignInCommon {
  base: string;
  config: oidc.Configuration;
  username: string;
  /** The account id the token must carry. */
  expectedSub: string;
  kind: 'genuine' | 'impostor';
  /** performance.now() at the run's start. */
  t0: number;
}

/**
 * One frame (LIVENESS=off), or a burst (LIVENESS=on): `burst` is called once the face step is
 * reached, so an attempt refused before it uses none (bursts are single-use: the server refuses
 * frames it has seen).
 */
export type SignInInput = SignInCommon & ({ frame: Frame } | { burst: () => Burst });

/**
 * authorize -> interaction (JSON) -> username -> one frame, or (PAD) challenge -> the camera's
 * filming (the burst's span, waited as a camera would) -> the burst -> the client's redirect ->
 * token exchange with ID token verification (openid-client). Never throws: every ending is classified.
 */
export async function signInOnce(input: SignInInput): Promise<Attempt> {
  const started = performance.now();
  const http = new BenchClient(input.base, nextAddress(), 'burst' in input ? BURST_REQUEST_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
  let step: Step = 'authorize';
  let faceMs: number | undefined;
  let filmingMs: number | undefined;
  const done = (outcome: Outcome, extra: Partial<Attempt> = {}): Attempt => {
    const end = performance.now();
    return { kind: input.kind, username: input.username, start: started - input.t0, end: end - input.t0, totalMs: end - started, faceMs, filmingMs, outcome, step, ...extra };
  };
  const refused = (response: Response) =>
    done(classify(response.status), { status: response.status, code: errorCode(response) ?? `http_${response.status}${response.headers.get('content-type')?.includes('html') ? '_html' : ''}` });
  try {
    const request = await authRequest(input.config);
    let response = await http.follow(await http.get(request.url.href));
    if (response.status !== 200) return refused(response);
    const state = response.json<{ prompt?: string; csrf: string; next: Record<string, string> }>();
    if (state.prompt !== 'login') return done('error', { status: response.status, code: `prompt_${state.prompt}` });
    step = 'username';
    response = await http.postForm(state.next.login!, { username: input.username, csrf: state.csrf });
    if (response.status !== 303 || !response.location) return refused(response);
    const facePath = new URL(response.location).pathname;
    const fields: Record<string, string> = { csrf: state.csrf };
    let frames: Frame[];
    if ('burst' in input) {
      step = 'challenge';
      response = await http.postForm(`${facePath}/challenge`, { csrf: state.csrf }, 'application/json');
      if (response.status !== 200) return refused(response);
      const burst = input.burst();
      const filmed = performance.now();
      await sleep(burst.times.at(-1) ?? 0);
      filmingMs = performance.now() - filmed;
      Object.assign(fields, { challenge: response.json<{ challenge: string }>().challenge, times: JSON.stringify(burst.times) });
      frames = burst.frames;
    } else {
      frames = [input.frame];
    }
    step = 'face';
    const faceStart = performance.now();
    response = await http.postFrames(facePath, fields, frames);
    faceMs = performance.now() - faceStart;
    if (response.status !== 303) return refused(response);
    step = 'callback';
    response = await http.follow(response);
    if (!response.location?.startsWith(REDIRECT_URI)) return refused(response);
    const callback = new URL(response.location);
    if (!callback.searchParams.get('code')) return done('error', { code: callback.searchParams.get('error') ?? 'no_code' });
    step = 'token';
    const tokens = await exchange(input.config, callback, request);
    const claims = tokens.claims();
    let wrong: string | undefined;
    if (input.kind === 'impostor') wrong = 'impostor accepted';
    else if (claims?.sub !== input.expectedSub) wrong = 'token for another sub';
    return done('accepted', wrong ? { wrong } : {});
  } catch (error) {
    const e = error as { status?: unknown; error?: unknown; code?: unknown };
    if (typeof e.status === 'number') {
      // openid-client: the token endpoint answered with an OAuth error (e.g. 503 temporarily_unavailable).
      return done(classify(e.status), { status: e.status, code: typeof e.error === 'string' ? e.error : String(e.code ?? `http_${e.status}`) });
    }
    const kind = networkKind(error);
    return done(kind === 'timeout' ? 'timeout' : 'network', { code: kind });
  }
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

/**
 * Machine-wide CPU time from /proc/stat (all cores, ms): busy = total - idle - iowait; nice = time
 * of processes running at lowered priority (background jobs that yield to normal-priority work).
 */
export function machineCpu(): { busyMs: number; niceMs: number; totalMs: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const tick = (n: number) => (n * 1000) / 100;
    return { busyMs: tick(total - idle), niceMs: tick(fields[1] ?? 0), totalMs: tick(total) };
  } catch {
    return { busyMs: Number.NaN, niceMs: Number.NaN, totalMs: Number.NaN };
  }
}

export function countBy<T>(items: readonly T[], key: (item: T) => string | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

export const formatCounts = (counts: Record<string, number>): string =>
  Object.keys(counts).length === 0 ? '0' : Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');

export const ms = (values: number[]) => ({ p50: median(values), p95: percentile(values, 95), p99: percentile(values, 99) });

if (process.env.FACEID_BENCH_IDP_CHILD === '1' && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await childMain();
}

