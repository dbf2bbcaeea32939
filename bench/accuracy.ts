/**
 * Face accuracy benchmark: failure-to-acquire, false-reject / false-accept at the configured
 * threshold, true-accept at fixed false-accept rates, multi-image enrollment, a comparison of
 * pipelines (--compare), and a re-run of a sample of decisions through the encrypted path.
 *
 *   npm run bench:accuracy -- [--faces DIR] [--pairs FILE] [--enroll K] [--json OUT] [--limit N]
 *                             [--extra N] [--compare] [--threshold T] [--he N] [--workers N]
 *
 * DIR holds <identity>/<n>.jpg (default $FACES_DIR/lfw, FACES_DIR defaulting to ../shared/faces,
 * with its lfw_pairs.txt). FILE is in LFW pairs format ("Name n1 n2" same person, "Name1 n1 Name2
 * n2" different; lines of another shape are ignored); without it, genuine pairs are generated
 * within identities. Impostor pairs: the listed ones plus all (or --impostors N sampled)
 * cross-identity pairs of the acquired images. --limit N keeps N listed pairs (half matched, half
 * mismatched) and at most N extra images, for quick iterations. --extra N adds up to N images of
 * identities with more than K images (enrollment sets, more impostors); default 1500.
 *
 * Descriptors stay in memory; nothing but the figures (--json) is written.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MATCH_THRESHOLD } from '../src/face/index.ts';
import {
  combineFrames, createFaceAnalyser, DEFAULT_CONSENSUS_LIMITS, DEFAULT_DETECTION_LIMITS, DEFAULT_PIPELINE, distance, isFaceErrorCode, modelVersionOf,
  pipelineKey, type FrameOutcome, type PipelineConfig,
} from '../src/face/research.ts';
import { spawnCustodian, type SpawnedCustodian } from '../src/custodian/index.ts';
import { createHeEngine, DEFAULT_HE_PARAMS, plainDecision, quantisationMargin, quantise } from '../src/he/index.ts';
import { enrollAt, judgeAt } from '../support/custodian.ts';
import { formatTable, median, percentile } from './lib/table.ts';

// ---------------------------------------------------------------------------------------------
// Pipelines compared by --compare (the first is the production pipeline).

const CHOSEN_DETECTORS = DEFAULT_PIPELINE.detectors;
export const COMPARE_PIPELINES: readonly { label: string; pipeline: PipelineConfig }[] = [
  { label: 'chosen: Tiny320 > SSD > SSD zoomed-out, dlib chip + mirror, 128-d, L2', pipeline: DEFAULT_PIPELINE },
  { label: 'face-api off the shelf: SSD, box crop, 128-d', pipeline: { detectors: [{ net: 'ssd' }], align: 'box', descriptor: 'rec128', normalise: false } },
  { label: 'face-api off the shelf: Tiny416, box crop, 128-d', pipeline: { detectors: [{ net: 'tiny', inputSize: 416 }], align: 'box', descriptor: 'rec128', normalise: false } },
  { label: 'SSD, dlib chip, 128-d, L2 (no retry, no mirror)', pipeline: { detectors: [{ net: 'ssd' }], align: 'dlib', descriptor: 'rec128', normalise: true } },
  { label: 'SSD > SSD zoomed-out > Tiny320, dlib chip + mirror, 128-d, L2', pipeline: { ...DEFAULT_PIPELINE, detectors: [{ net: 'ssd' }, { net: 'ssd', pad: 0.5 }, { net: 'tiny', inputSize: 320 }] } },
  { label: 'chosen detectors, dlib chip (no mirror), 128-d, L2', pipeline: { detectors: CHOSEN_DETECTORS, align: 'dlib', descriptor: 'rec128', normalise: true } },
  { label: 'chosen detectors, box crop, 128-d, L2', pipeline: { detectors: CHOSEN_DETECTORS, align: 'box', descriptor: 'rec128', normalise: true } },
  { label: 'chosen, not L2-normalised', pipeline: { ...DEFAULT_PIPELINE, normalise: false } },
  { label: 'human: blazeface + facemesh + faceres 1024-d, L2', pipeline: { detectors: [{ net: 'blazeface' }], align: 'dlib', descriptor: 'faceres1024', normalise: true } },
  { label: 'fusion: chosen 128-d (weight 0.85) + faceres 1024-d', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'fusion', fusionWeight: 0.85 } },
];

const FAR_LEVELS = [1e-2, 1e-3, 1e-4] as const;

// ---------------------------------------------------------------------------------------------
// Data set

interface Dataset {
  keys: string[]; // "<identity>/<n>"
  files: string[];
  identity: string[];
  genuine: [number, number][];
  listedImpostors: [number, number][];
  pairsSource: string;
}

function listIdentities(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const identity of readdirSync(dir).sort()) {
    const sub = path.join(dir, identity);
    if (identity.startsWith('.') || !statSync(sub).isDirectory()) continue;
    const stems = readdirSync(sub)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (stems.length) out.set(identity, stems);
  }
  return out;
}

/** Deterministic PRNG (mulberry32), so that --limit subsets and samples are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildDataset(dir: string, pairsFile: string | undefined, options: { limit?: number; extra: number; enroll: number; seed: number }): Dataset {
  const ids = listIdentities(dir);
  const keys: string[] = [];
  const files: string[] = [];
  const identity: string[] = [];
  const index = new Map<string, number>();
  const fileOf = (id: string, n: string) => {
    const stems = ids.get(id);
    return stems?.find((f) => f.replace(/\.[^.]+$/, '') === n);
  };
  const add = (id: string, n: string): number | undefined => {
    const key = `${id}/${n}`;
    const known = index.get(key);
    if (known !== undefined) return known;
    const file = fileOf(id, n);
    if (!file) return undefined;
    index.set(key, keys.length);
    keys.push(key);
    files.push(path.join(dir, id, file));
    identity.push(id);
    return keys.length - 1;
  };
  const genuine: [number, number][] = [];
  const listedImpostors: [number, number][] = [];
  let pairsSource: string;
  if (pairsFile) {
    const matched: [string, string, string, string][] = [];
    const mismatched: [string, string, string, string][] = [];
    for (const line of readFileSync(pairsFile, 'utf8').split(/\r?\n/)) {
      const f = line.trim().split(/\s+/);
      if (f.length === 3) matched.push([f[0]!, f[1]!, f[0]!, f[2]!]);
      else if (f.length === 4) mismatched.push([f[0]!, f[1]!, f[2]!, f[3]!]);
    }
    const m = options.limit ? matched.slice(0, Math.ceil(options.limit / 2)) : matched;
    const mm = options.limit ? mismatched.slice(0, Math.floor(options.limit / 2)) : mismatched;
    let missing = 0;
    for (const [list, out] of [[m, genuine], [mm, listedImpostors]] as const) {
      for (const [a, na, b, nb] of list) {
        const i = add(a, na), j = add(b, nb);
        if (i === undefined || j === undefined) missing += 1;
        else out.push([i, j]);
      }
    }
    pairsSource = `${path.basename(pairsFile)}: ${genuine.length} matched + ${listedImpostors.length} mismatched pairs${missing ? ` (${missing} skipped: image not in DIR)` : ''}`;
  } else {
    // Genuine pairs generated within identities (at most 10 per identity), whole identities in order.
    const random = rng(options.seed);
    const budget = options.limit ?? Number.POSITIVE_INFINITY;
    for (const [id, stems] of ids) {
      if (stems.length < 2) continue;
      if (genuine.length >= budget) break;
      const idx = stems.map((f) => add(id, f.replace(/\.[^.]+$/, ''))!);
      const all: [number, number][] = [];
      for (let a = 0; a < idx.length; a += 1) for (let b = a + 1; b < idx.length; b += 1) all.push([idx[a]!, idx[b]!]);
      for (let k = all.length - 1; k > 0; k -= 1) {
        const r = Math.floor(random() * (k + 1));
        [all[k], all[r]] = [all[r]!, all[k]!];
      }
      genuine.push(...all.slice(0, 10));
    }
    pairsSource = `generated: ${genuine.length} same-identity pairs (no pairs file)`;
  }
  // Extra images: identities with > K images, those already present first, K + 2 images each.
  let extra = Math.min(options.extra, options.limit ?? Number.POSITIVE_INFINITY);
  const present = new Set(identity);
  const candidates = [...ids.entries()].filter(([, stems]) => stems.length > Math.max(1, options.enroll));
  candidates.sort(([a], [b]) => Number(present.has(b)) - Number(present.has(a)) || a.localeCompare(b));
  for (const [id, stems] of candidates) {
    if (extra <= 0) break;
    for (const f of stems.slice(0, Math.max(2, options.enroll) + 2)) {
      if (extra <= 0) break;
      const before = keys.length;
      add(id, f.replace(/\.[^.]+$/, ''));
      if (keys.length > before) extra -= 1;
    }
  }
  return { keys, files, identity, genuine, listedImpostors, pairsSource };
}

// ---------------------------------------------------------------------------------------------
// Metrics

type Outcome = Float32Array | string; // descriptor, or the refusal code

/** Cross-identity distances among acquired images: all pairs, or `cap` sampled pairs. */
function impostorDistances(ds: Dataset, outcomes: Outcome[], cap: number, seed: number): Float32Array {
  const acquired = outcomes.flatMap((o, i) => (typeof o === 'string' ? [] : [i]));
  const n = acquired.length;
  const totalPairs = (n * (n - 1)) / 2;
  const out: number[] = [];
  for (const [i, j] of ds.listedImpostors) {
    const a = outcomes[i]!, b = outcomes[j]!;
    if (typeof a !== 'string' && typeof b !== 'string') out.push(distance(a, b));
  }
  if (totalPairs <= cap) {
    for (let x = 0; x < n; x += 1) {
      const i = acquired[x]!;
      const a = outcomes[i] as Float32Array;
      for (let y = x + 1; y < n; y += 1) {
        const j = acquired[y]!;
        if (ds.identity[i] !== ds.identity[j]) out.push(distance(a, outcomes[j] as Float32Array));
      }
    }
  } else {
    const random = rng(seed);
    while (out.length < cap) {
      const i = acquired[Math.floor(random() * n)]!, j = acquired[Math.floor(random() * n)]!;
      if (ds.identity[i] !== ds.identity[j]) out.push(distance(outcomes[i] as Float32Array, outcomes[j] as Float32Array));
    }
  }
  return Float32Array.from(out).sort();
}

/** Largest threshold t such that at most a fraction `far` of impostors have distance < t. */
function thresholdAtFar(sortedImpostors: Float32Array, far: number): number {
  const k = Math.floor(far * sortedImpostors.length);
  return sortedImpostors[Math.min(k, sortedImpostors.length - 1)]!;
}

const countBelow = (sorted: Float32Array, t: number) => {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

interface Verification {
  genuineAttempts: number;
  genuineAcquired: number;
  impostorPairs: number;
  threshold: number;
  frr: number; // failures to acquire counted as rejects
  frrAcquired: number;
  far: number;
  atFar: { far: number; threshold: number; tar: number; tarAcquired: number }[];
}

function verification(genuine: number[], impostors: Float32Array, threshold: number): Verification {
  // NaN = a failure to acquire one of the two images: a false reject.
  const acquired = genuine.filter((d) => !Number.isNaN(d));
  const tarAt = (t: number) => acquired.filter((d) => d < t).length;
  return {
    genuineAttempts: genuine.length,
    genuineAcquired: acquired.length,
    impostorPairs: impostors.length,
    threshold,
    frr: 1 - tarAt(threshold) / genuine.length,
    frrAcquired: 1 - tarAt(threshold) / acquired.length,
    far: countBelow(impostors, threshold) / impostors.length,
    atFar: FAR_LEVELS.map((far) => {
      const t = thresholdAtFar(impostors, far);
      return { far, threshold: t, tar: tarAt(t) / genuine.length, tarAcquired: tarAt(t) / acquired.length };
    }),
  };
}

function genuineDistances(pairs: [number, number][], outcomes: Outcome[]): number[] {
  return pairs.map(([i, j]) => {
    const a = outcomes[i]!, b = outcomes[j]!;
    return typeof a === 'string' || typeof b === 'string' ? Number.NaN : distance(a, b);
  });
}

interface EnrollmentResult {
  k: number;
  identities: number;
  failedToEnroll: number;
  verification: Verification;
}

/** Template = enroll() of the first K images of an identity (same consensus code), probes = the others. */
function enrollment(ds: Dataset, outcomes: Outcome[], k: number, threshold: number, normalise: boolean, cap: number, seed: number): EnrollmentResult | null {
  const byId = new Map<string, number[]>();
  ds.identity.forEach((id, i) => byId.set(id, [...(byId.get(id) ?? []), i]));
  const templates: { id: string; t: Float32Array }[] = [];
  const genuine: number[] = [];
  let identities = 0, failed = 0;
  for (const [id, images] of byId) {
    if (images.length < k + 1) continue;
    identities += 1;
    const frames: FrameOutcome[] = images.slice(0, k).map((i) => {
      const o = outcomes[i]!;
      return typeof o === 'string' ? { ok: false, code: isFaceErrorCode(o) ? o : 'no_face' } : { ok: true, descriptor: o };
    });
    let template: Float32Array;
    try {
      template = combineFrames(frames, { agreeDistance: DEFAULT_CONSENSUS_LIMITS.agreeDistance, minFrames: Math.min(k, DEFAULT_CONSENSUS_LIMITS.minEnrollFrames), normalise }).descriptor;
    } catch {
      failed += 1;
      for (const _ of images.slice(k)) genuine.push(Number.NaN);
      continue;
    }
    templates.push({ id, t: template });
    for (const i of images.slice(k)) {
      const o = outcomes[i]!;
      genuine.push(typeof o === 'string' ? Number.NaN : distance(template, o));
    }
  }
  if (identities === 0) return null;
  const probes = outcomes.flatMap((o, i) => (typeof o === 'string' ? [] : [i]));
  const imp: number[] = [];
  const total = templates.length * probes.length;
  if (total <= cap) {
    for (const { id, t } of templates) for (const i of probes) if (ds.identity[i] !== id) imp.push(distance(t, outcomes[i] as Float32Array));
  } else {
    const random = rng(seed + 1);
    while (imp.length < cap) {
      const { id, t } = templates[Math.floor(random() * templates.length)]!;
      const i = probes[Math.floor(random() * probes.length)]!;
      if (ds.identity[i] !== id) imp.push(distance(t, outcomes[i] as Float32Array));
    }
  }
  return { k, identities, failedToEnroll: failed, verification: verification(genuine, Float32Array.from(imp).sort(), threshold) };
}

// ---------------------------------------------------------------------------------------------
// Encrypted path (src/he + src/custodian, owned by the HE engineer; loaded dynamically so that this
// benchmark still runs, and says so, when they are absent or their API moved).

interface EncryptedResult {
  status: 'ok' | 'skipped';
  reason?: string;
  decisions?: number;
  nearThreshold?: number;
  heVsPlainQuantised?: number;
  heVsFloat?: number;
  maxGapOfFloatDisagreement?: number;
  quantisationMargin?: number;
  msPerDecision?: number;
  /** The HE decision (= plainDecision, quantised) against the float one, over every official pair. */
  quantised?: { genuine: number; genuineRejectedFloat: number; genuineRejectedQuantised: number; impostors: number; impostorsAcceptedFloat: number; impostorsAcceptedQuantised: number; meanDistanceShift: number };
}

/** Float vs quantised decisions (what the encrypted path decides) on every given pair. */
async function quantisedDecisions(genuine: [Float32Array, Float32Array][], impostors: [Float32Array, Float32Array][], threshold: number): Promise<EncryptedResult['quantised']> {
  let shift = 0, n = 0;
  const count = (pairs: [Float32Array, Float32Array][], accept: boolean) => {
    let f = 0, q = 0;
    for (const [a, b] of pairs) {
      const d = distance(a, b);
      if ((d < threshold) === accept) f += 1;
      if (plainDecision(a, b, threshold) === accept) q += 1;
      if (n < 20_000) {
        const qa = quantise(a), qb = quantise(b);
        let sq = 0;
        for (let i = 0; i < qa.length; i += 1) sq += (qa[i]! - qb[i]!) ** 2;
        shift += Math.sqrt(sq) / DEFAULT_HE_PARAMS.scale - d;
        n += 1;
      }
    }
    return [f, q] as const;
  };
  const [gf, gq] = count(genuine, false);
  const [imf, imq] = count(impostors, true);
  return { genuine: genuine.length, genuineRejectedFloat: gf, genuineRejectedQuantised: gq, impostors: impostors.length, impostorsAcceptedFloat: imf, impostorsAcceptedQuantised: imq, meanDistanceShift: n ? shift / n : Number.NaN };
}

async function encryptedPath(pairs: { a: Float32Array; b: Float32Array; d: number }[], threshold: number, band: number): Promise<EncryptedResult> {
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'faceid-bench-custodian-'));
  let spawned: SpawnedCustodian | undefined;
  try {
    spawned = await spawnCustodian({
      keyDir,
      sharedSecret: randomBytes(32).toString('base64url'),
      demo: true,
      env: {
        CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '100000', CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '1000000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '1000000',
        CUSTODIAN_REGISTRATIONS_PER_HOUR: '1000000', CUSTODIAN_REGISTRATIONS_PER_DAY: '1000000', CUSTODIAN_LOG_LEVEL: 'silent',
      },
    });
    const engine = await createHeEngine();
    let heVsPlain = 0, heVsFloat = 0, maxGap = 0, near = 0;
    const start = performance.now();
    try {
      for (const [n, { a, b, d }] of pairs.entries()) {
        if (Math.abs(d - threshold) <= band) near += 1;
        // Each pair as the IdP does it: the template enrolled under its own subject's key, then judged.
        const enrolled = await enrollAt(spawned.client, engine, a, `bench-${n}`);
        const match = (await judgeAt(spawned.client, engine, enrolled, b, threshold)) === 'match';
        if (match !== plainDecision(a, b, threshold)) heVsPlain += 1;
        if (match !== d < threshold) {
          heVsFloat += 1;
          maxGap = Math.max(maxGap, Math.abs(d - threshold));
        }
      }
    } finally {
      engine.close();
    }
    return {
      status: 'ok',
      decisions: pairs.length,
      nearThreshold: near,
      heVsPlainQuantised: heVsPlain,
      heVsFloat,
      maxGapOfFloatDisagreement: maxGap,
      quantisationMargin: quantisationMargin(threshold),
      msPerDecision: (performance.now() - start) / pairs.length,
    };
  } catch (error) {
    return { status: 'skipped', reason: `encrypted path failed: ${(error as Error).message}` };
  } finally {
    await spawned?.stop().catch(() => undefined);
    await rm(keyDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Timing of each pipeline alone (one worker, sequential): what a frame costs with that pipeline.

async function timePipelines(pipelines: PipelineConfig[], files: string[]): Promise<{ median: number; p95: number }[]> {
  const out: { median: number; p95: number }[] = [];
  const samples = files.map((file) => readFileSync(file));
  for (const pipeline of pipelines) {
    const analyser = await createFaceAnalyser({ workers: 1, pipelines: [pipeline] });
    const ms: number[] = [];
    try {
      for (const bytes of samples) {
        const start = performance.now();
        try {
          await analyser.analyse(bytes);
        } catch {
          // refusals cost time too
        }
        ms.push(performance.now() - start);
      }
    } finally {
      await analyser.close();
    }
    out.push({ median: median(ms), p95: percentile(ms, 95) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      faces: { type: 'string' },
      pairs: { type: 'string' },
      enroll: { type: 'string', default: '3' },
      json: { type: 'string' },
      limit: { type: 'string' },
      extra: { type: 'string', default: '1500' },
      compare: { type: 'boolean', default: false },
      threshold: { type: 'string' },
      he: { type: 'string', default: '2000' },
      workers: { type: 'string' },
      impostors: { type: 'string', default: '5000000' },
      'time-sample': { type: 'string', default: '60' },
      'min-face': { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const sharedFaces = path.resolve(process.env.FACES_DIR ?? path.join(import.meta.dirname, '..', '..', 'shared', 'faces'));
  const dir = path.resolve(values.faces ?? path.join(sharedFaces, 'lfw'));
  const defaultPairs = path.join(sharedFaces, 'lfw_pairs.txt');
  const pairsFile = values.pairs ? path.resolve(values.pairs) : !values.faces && existsSync(defaultPairs) ? defaultPairs : undefined;
  if (!existsSync(dir)) throw new Error(`no face directory ${dir} (use --faces DIR or FACES_DIR)`);
  const k = Number(values.enroll);
  const limit = values.limit ? Number(values.limit) : undefined;
  const threshold = values.threshold ? Number(values.threshold) : DEFAULT_MATCH_THRESHOLD;
  const seed = Number(values.seed);
  const impostorCap = Number(values.impostors);
  const heSample = Number(values.he);
  const workers = values.workers ? Number(values.workers) : os.availableParallelism();

  const ds = buildDataset(dir, pairsFile, { limit, extra: Number(values.extra), enroll: k, seed });
  const compare = values.compare ? COMPARE_PIPELINES : COMPARE_PIPELINES.slice(0, 1);
  const pipelines = compare.map((c) => c.pipeline);
  console.error(`[accuracy] ${ds.keys.length} images, ${ds.pairsSource}; ${pipelines.length} pipeline(s); ${workers} worker(s)`);

  // Descriptors of every image for every pipeline, both cores busy (2 tasks in flight per worker).
  // The workers run with no minimum face size; the production minimum (the last check of the
  // pipeline, after "exactly one face") is applied here, so that its effect can be reported.
  const minFaceSize = values['min-face'] ? Number(values['min-face']) : DEFAULT_DETECTION_LIMITS.minFaceSize;
  const analyser = await createFaceAnalyser({ workers, pipelines, maxQueue: 1_000_000, detection: { minFaceSize: 0 } });
  const faceSizes: number[] = new Array<number>(ds.keys.length).fill(Number.NaN);
  const outcomesRaw: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(ds.keys.length);
  const outcomes: Outcome[][] = pipelines.map(() => new Array<Outcome>(ds.keys.length));
  const retries: number[][] = pipelines.map(() => []);
  const phase = { decode: [] as number[], detect: [] as number[], landmarks: [] as number[], descriptor: [] as number[] };
  const started = performance.now();
  let next = 0, done = 0;
  const variants = pipelines.map((_, i) => i);
  await Promise.all(Array.from({ length: workers * 2 }, async () => {
    while (next < ds.keys.length) {
      const i = next++;
      try {
        const { results, timings } = await analyser.analyse(readFileSync(ds.files[i]!), variants);
        results.forEach((r, v) => {
          outcomes[v]![i] = !r.ok ? r.code : r.faceSize < minFaceSize ? 'face_too_small' : r.descriptor;
          if (v === 0 && r.ok) {
            faceSizes[i] = r.faceSize;
            outcomesRaw[i] = r.descriptor;
          }
          if (r.ok) retries[v]![r.detector] = (retries[v]![r.detector] ?? 0) + 1;
        });
        for (const key of Object.keys(phase) as (keyof typeof phase)[]) phase[key].push(timings[key]);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'error';
        for (const o of outcomes) o[i] = code;
      }
      done += 1;
      if (done % 250 === 0) {
        const rate = (performance.now() - started) / done;
        console.error(`[accuracy] ${done}/${ds.keys.length} images, ${rate.toFixed(0)} ms/image, ~${Math.round(((ds.keys.length - done) * rate) / 60_000)} min left`);
      }
    }
  }));
  await analyser.close();
  const wallMs = performance.now() - started;

  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.availableParallelism(), node: process.version },
    dataset: { dir, pairs: ds.pairsSource, images: ds.keys.length, identities: new Set(ds.identity).size },
    modelVersion: modelVersionOf(pipelines[0]!),
    threshold,
    workers,
    msPerImageWall: wallMs / ds.keys.length,
  };
  const lines: string[] = [];
  lines.push(`## Face accuracy: ${ds.keys.length} images, ${new Set(ds.identity).size} identities (${path.basename(dir)})`, '');
  lines.push(`- pairs: ${ds.pairsSource}`, `- model: \`${modelVersionOf(pipelines[0]!)}\`, threshold ${threshold} (Euclidean, descriptors as output)`);
  lines.push(`- throughput: ${(wallMs / ds.keys.length).toFixed(0)} ms/image wall-clock with ${workers} worker(s) (${pipelines.length} pipeline(s) per image)`, '');

  const perPipeline = compare.map(({ label, pipeline }, v) => {
    const o = outcomes[v]!;
    const refusals: Record<string, number> = {};
    for (const x of o) if (typeof x === 'string') refusals[x] = (refusals[x] ?? 0) + 1;
    const fta = Object.values(refusals).reduce((a, b) => a + b, 0) / o.length;
    const imp = impostorDistances(ds, o, impostorCap, seed);
    const official = verification(genuineDistances(ds.genuine, o), imp, threshold);
    return { label, key: pipelineKey(pipeline), pipeline, fta, refusals, detectorUsed: retries[v]!, official, imp };
  });

  let timings: { median: number; p95: number }[] | undefined;
  if (values.compare) {
    const sample = ds.files.slice(0, Number(values['time-sample']));
    console.error(`[accuracy] timing each pipeline alone on ${sample.length} images (1 worker)`);
    timings = await timePipelines(pipelines, sample);
  }

  // Comparison table
  lines.push('### Pipelines on the same images and pairs', '');
  lines.push(formatTable(
    ['pipeline', 'FTA', 'FRR @ FAR 1e-3 (FTA = reject)', 'FRR @ FAR 1e-3 (acquired)', 'FRR @ FAR 1e-2', 'FRR @ FAR 1e-4', 'thr @ 1e-3', ...(timings ? ['ms/image median (p95), 1 thread'] : [])],
    perPipeline.map((p, v) => [
      p.label,
      pct(p.fta),
      pct(1 - p.official.atFar[1]!.tar),
      pct(1 - p.official.atFar[1]!.tarAcquired),
      pct(1 - p.official.atFar[0]!.tar),
      pct(1 - p.official.atFar[2]!.tar),
      p.official.atFar[1]!.threshold.toFixed(4),
      ...(timings ? [`${timings[v]!.median.toFixed(0)} (${timings[v]!.p95.toFixed(0)})`] : []),
    ]),
  ));
  lines.push('', `Genuine: the listed matched pairs (${ds.genuine.length}); impostors: listed mismatched pairs + cross-identity pairs of acquired images (${perPipeline[0]!.imp.length.toLocaleString('en-US')} for the first pipeline). FTA = no single usable face (refusal by the production rules).`, '');

  // Production pipeline in detail
  const main0 = perPipeline[0]!;
  const o0 = outcomes[0]!;
  lines.push(`### ${main0.label}`, '');
  lines.push(formatTable(['measure', 'value'], [
    ['failure to acquire', `${pct(main0.fta)} (${Object.entries(main0.refusals).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'})`],
    ['detector that found the face', main0.detectorUsed.map((n, i) => `#${i + 1}: ${n ?? 0}`).join(', ')],
    [`false-reject @ threshold ${threshold} (FTA = reject)`, pct(main0.official.frr)],
    [`false-reject @ threshold ${threshold} (acquired pairs)`, pct(main0.official.frrAcquired)],
    [`false-accept @ threshold ${threshold}`, `${main0.official.far.toExponential(2)} (${main0.official.impostorPairs.toLocaleString('en-US')} impostor pairs)`],
    ...main0.official.atFar.map((a) => [`true-accept @ FAR ${a.far} (threshold ${a.threshold.toFixed(4)})`, `${pct(a.tar)} (acquired: ${pct(a.tarAcquired)})`] as [string, string]),
    [`pairs apart by more than the consistency distance ${DEFAULT_CONSENSUS_LIMITS.agreeDistance}`, (() => {
      const v = verification(genuineDistances(ds.genuine, o0), main0.imp, DEFAULT_CONSENSUS_LIMITS.agreeDistance);
      return `genuine (acquired) ${pct(v.frrAcquired)}, impostor ${pct(1 - v.far)}`;
    })()],
  ]));
  lines.push('');
  if (phase.decode.length) {
    lines.push(formatTable(['phase (per image, all pipelines)', 'median ms', 'p95 ms'], (Object.keys(phase) as (keyof typeof phase)[]).map((key) => [key, median(phase[key]).toFixed(1), percentile(phase[key], 95).toFixed(1)])));
    lines.push('');
  }

  // Face size (landmark jaw-to-jaw width) and the minimum size rule.
  {
    const sized = faceSizes.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    if (sized.length) {
      lines.push(`Face width (jaw to jaw, from landmarks) of the detected faces: p1 ${percentile(sized, 1).toFixed(0)} px, p5 ${percentile(sized, 5).toFixed(0)}, median ${median(sized).toFixed(0)}, p95 ${percentile(sized, 95).toFixed(0)}; minimum ${minFaceSize} px refuses ${pct(sized.filter((x) => x < minFaceSize).length / ds.keys.length)} of the images.`, '');
      const buckets = [0, 50, 60, 70, 80, 90, Number.POSITIVE_INFINITY];
      const rows: (string | number)[][] = [];
      const t3 = main0.official.atFar[1]!.threshold;
      for (let b = 0; b + 1 < buckets.length; b += 1) {
        const inBucket = ds.genuine.filter(([i, j]) => {
          const m = Math.min(faceSizes[i]!, faceSizes[j]!);
          return m >= buckets[b]! && m < buckets[b + 1]!;
        });
        const d = inBucket.map(([i, j]) => {
          const a = outcomesRaw[i], c = outcomesRaw[j];
          return a && c ? distance(a, c) : Number.NaN;
        }).filter((x) => !Number.isNaN(x));
        if (d.length) rows.push([`${buckets[b]}-${Number.isFinite(buckets[b + 1]!) ? buckets[b + 1] : ''} px`, d.length, pct(d.filter((x) => x >= t3).length / d.length)]);
      }
      lines.push(formatTable(['smaller face of a genuine pair', 'pairs', `FRR @ FAR 1e-3 threshold ${t3.toFixed(3)}`], rows), '');
    }
  }

  // Enrollment with K images
  const enrolled: EnrollmentResult[] = [];
  for (const kk of [...new Set([1, k])].filter((x) => x >= 1)) {
    const e = enrollment(ds, o0, kk, threshold, DEFAULT_PIPELINE.normalise, impostorCap, seed);
    if (e) enrolled.push(e);
  }
  if (enrolled.length) {
    lines.push(`### Enrollment with K images (template = enroll() of K images, probe = another image of the identity)`, '');
    lines.push(formatTable(
      ['K', 'identities', 'failed to enroll', 'genuine probes', `FRR @ ${threshold}`, `FAR @ ${threshold}`, ...FAR_LEVELS.map((f) => `FRR @ FAR ${f}: all (enrolled+acquired), thr`)],
      enrolled.map((e) => [e.k, e.identities, e.failedToEnroll, e.verification.genuineAttempts, `${pct(e.verification.frr)} (${pct(e.verification.frrAcquired)})`, e.verification.far.toExponential(2), ...e.verification.atFar.map((a) => `${pct(1 - a.tar)} (${pct(1 - a.tarAcquired)}), ${a.threshold.toFixed(4)}`)]),
    ));
    lines.push('', 'Images are taken in file order; identities need K + 1 images in the set (--extra adds some). Failures to enroll and to acquire count as rejects in "all". The production rule needs 3 consistent frames: with K = 3, one LFW photo refused (mostly multiple_faces) fails the enrollment. Impostors: every template against every acquired image of another identity (or --impostors sampled).', '');
  }

  // Encrypted path
  let encrypted: EncryptedResult = { status: 'skipped', reason: '--he 0' };
  if (heSample > 0) {
    const band = 0.03;
    const candidates: { a: Float32Array; b: Float32Array; d: number }[] = [];
    for (const [i, j] of [...ds.genuine, ...ds.listedImpostors]) {
      const a = o0[i]!, b = o0[j]!;
      if (typeof a !== 'string' && typeof b !== 'string') candidates.push({ a, b, d: distance(a, b) });
    }
    // Near-threshold cross-identity pairs too (where a wrong decision would show).
    const acquired = o0.flatMap((x, i) => (typeof x === 'string' ? [] : [i]));
    const random = rng(seed + 2);
    let near = candidates.filter((c) => Math.abs(c.d - threshold) <= band).length;
    for (let tries = 0; tries < 2_000_000 && near < heSample / 2 && acquired.length > 1; tries += 1) {
      const i = acquired[Math.floor(random() * acquired.length)]!, j = acquired[Math.floor(random() * acquired.length)]!;
      if (ds.identity[i] === ds.identity[j]) continue;
      const d = distance(o0[i] as Float32Array, o0[j] as Float32Array);
      if (Math.abs(d - threshold) <= band) {
        candidates.push({ a: o0[i] as Float32Array, b: o0[j] as Float32Array, d });
        near += 1;
      }
    }
    // Every near-threshold decision (up to --he), then the others evenly spread to fill --he.
    const nearOnes = candidates.filter((c) => Math.abs(c.d - threshold) <= band).slice(0, heSample);
    const others = candidates.filter((c) => Math.abs(c.d - threshold) > band);
    const room = Math.max(0, heSample - nearOnes.length);
    const step = room > 0 ? Math.max(1, Math.floor(others.length / room)) : Number.POSITIVE_INFINITY;
    const sample = [...nearOnes, ...others.filter((_, n) => n % step === 0).slice(0, room)];
    console.error(`[accuracy] encrypted path: ${sample.length} decisions (${nearOnes.length} within ${band} of the threshold)`);
    encrypted = await encryptedPath(sample, threshold, band);
    // Every official pair, and 1 M random cross-identity pairs, through the quantised decision.
    const pairOf = ([i, j]: [number, number]) => [o0[i], o0[j]] as const;
    const both = (p: readonly [Outcome | undefined, Outcome | undefined]): p is readonly [Float32Array, Float32Array] => p[0] instanceof Float32Array && p[1] instanceof Float32Array;
    const genuinePairs = ds.genuine.map(pairOf).filter(both).map((p) => [p[0], p[1]] as [Float32Array, Float32Array]);
    const impostorPairs: [Float32Array, Float32Array][] = [];
    const r2 = rng(seed + 3);
    while (impostorPairs.length < 1_000_000 && acquired.length > 1) {
      const i = acquired[Math.floor(r2() * acquired.length)]!, j = acquired[Math.floor(r2() * acquired.length)]!;
      if (ds.identity[i] !== ds.identity[j]) impostorPairs.push([o0[i] as Float32Array, o0[j] as Float32Array]);
    }
    if (encrypted.status === 'ok') encrypted.quantised = await quantisedDecisions(genuinePairs, impostorPairs, threshold);
  }
  lines.push('### Encrypted path (HE match + custodian verdict vs plaintext decision)', '');
  if (encrypted.status === 'ok') {
    lines.push(formatTable(['decisions', 'within 0.03 of threshold', 'HE != quantised plaintext', 'HE != float decision', 'max |d - thr| of those', 'guaranteed margin', 'ms/decision'], [[
      encrypted.decisions!, encrypted.nearThreshold!, encrypted.heVsPlainQuantised!, encrypted.heVsFloat!, encrypted.maxGapOfFloatDisagreement!.toFixed(4), encrypted.quantisationMargin?.toFixed(4) ?? 'n/a', encrypted.msPerDecision!.toFixed(2),
    ]]));
    const q = encrypted.quantised;
    if (q) {
      lines.push('', formatTable(['decision on every pair', 'genuine pairs rejected', 'impostor pairs accepted'], [
        [`float, distance < ${threshold}`, `${q.genuineRejectedFloat} / ${q.genuine} (${pct(q.genuineRejectedFloat / q.genuine)})`, `${q.impostorsAcceptedFloat} / ${q.impostors.toLocaleString('en-US')} (${(q.impostorsAcceptedFloat / q.impostors).toExponential(2)})`],
        ['quantised = encrypted path', `${q.genuineRejectedQuantised} / ${q.genuine} (${pct(q.genuineRejectedQuantised / q.genuine)})`, `${q.impostorsAcceptedQuantised} / ${q.impostors.toLocaleString('en-US')} (${(q.impostorsAcceptedQuantised / q.impostors).toExponential(2)})`],
      ]), '', `Quantisation moves a distance by ${q.meanDistanceShift >= 0 ? '+' : ''}${q.meanDistanceShift.toFixed(4)} on average (rounding adds length to the difference vector). Official acquired matched pairs; 1 M random cross-identity pairs.`);
    }
  } else {
    lines.push(`skipped: ${encrypted.reason}`);
  }
  lines.push('');

  const suggested = main0.official.atFar[1]!.threshold;
  const templateThreshold = enrolled.find((e) => e.k === k && k > 1)?.verification.atFar[1]!.threshold;
  lines.push(`Thresholds for FAR <= 1e-3 on this run (${main0.label}): single image vs single image ${suggested.toFixed(4)}${templateThreshold === undefined ? '' : `; template of K = ${k} images vs single image ${templateThreshold.toFixed(4)}`} (configured: ${threshold}).`);
  console.log(lines.join('\n'));

  if (values.json) {
    Object.assign(report, {
      pipelines: perPipeline.map((p, v) => ({ label: p.label, key: p.key, fta: p.fta, refusals: p.refusals, detectorUsed: p.detectorUsed, official: p.official, timing: timings?.[v] })),
      phases: Object.fromEntries((Object.keys(phase) as (keyof typeof phase)[]).map((key) => [key, { median: median(phase[key]), p95: percentile(phase[key], 95) }])),
      enrollment: enrolled,
      encrypted,
      thresholdAtFar1e3: suggested,
      templateThresholdAtFar1e3: templateThreshold,
    });
    await mkdir(path.dirname(path.resolve(values.json)), { recursive: true });
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

await main();
