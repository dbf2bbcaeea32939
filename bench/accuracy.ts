/**
 * Face accuracy benchmark: failure-to-acquire, false-reject / false-accept at the configured
 * threshold, true-accept at fixed false-accept rates, multi-image enrollment, the threshold for
 * FAR <= 1e-4 on the encrypted decision (with its 95% bound), a comparison of pipelines
 * (--compare), and a re-run of a sample of decisions through the encrypted path.
 *
 *   npm run bench:accuracy -- [--faces DIR] [--pairs FILE] [--enroll K] [--json OUT] [--limit N]
 *                             [--extra N] [--compare] [--only I,J] [--threshold T] [--he N] [--workers N]
 *                             [--max-yaw Y] [--min-sharpness S]
 *
 * DIR holds <identity>/<n>.jpg (default $FACES_DIR/lfw, FACES_DIR defaulting to ../shared/faces,
 * with its lfw_pairs.txt). FILE is in LFW pairs format ("Name n1 n2" same person, "Name1 n1 Name2
 * n2" different; lines of another shape are ignored); without it, genuine pairs are generated
 * within identities. Impostor pairs: the listed ones plus all (or --impostors N sampled)
 * cross-identity pairs of the acquired images. --limit N keeps N listed pairs (half matched, half
 * mismatched) and at most N extra images, for quick iterations. --extra N adds up to N images of
 * identities with more than K images (enrollment sets, more impostors); default 1500. --only I,J
 * compares the production pipeline with COMPARE_PIPELINES[I], [J] only. The descriptor candidates
 * read their weights from $FACE_CANDIDATE_MODELS (src/face/candidates.ts).
 *
 * --max-yaw / --min-sharpness replace the production quality gate (src/face/quality.ts); the
 * "Quality gate" table compares it with the gate off and with other rules on the same images.
 *
 * Descriptors stay in memory; nothing but the figures (--json) is written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MATCH_THRESHOLD } from '../src/face/index.ts';
import { createFaceAnalyser, DEFAULT_CONSENSUS_LIMITS, DEFAULT_DETECTION_LIMITS, DEFAULT_PIPELINE, distance, modelVersionOf, pipelineDimension, pipelineKey, type FaceQuality, type PipelineConfig, type QualityRule } from '../src/face/research.ts';
import { gated, qualitySweep, type GateRow } from './accuracy/quality.ts';
import { probeFusion, type FusionResult } from './accuracy/fusion.ts';
import { formatTable, median, percentile } from './lib/table.ts';

import { buildDataset } from './accuracy/dataset.ts';
import { countBelow, enrollment, genuineDistances, impostorDistances, quantisedMeasure, thresholdAtFar, thresholdsForFar, upperBound, verification, type EnrollmentResult, type Outcome, type Verification } from './accuracy/metrics.ts';
import { plainDecision } from '../src/he/index.ts';
import { rng } from './accuracy/dataset.ts';
import { encryptedPath, quantisedDecisions, type EncryptedResult } from './accuracy/encrypted.ts';
import { timePipelines } from './accuracy/timing.ts';
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
  // Issue 12's candidates (src/face/candidates.ts; files from $FACE_CANDIDATE_MODELS): chosen
  // detectors and landmarks, each network on the crop and pixel encoding it was trained with.
  { label: 'chosen detectors, faceres-deep 1024-d (human-models 3.0.4), dlib chip 224 + mirror, L2', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'faceres-deep' } },
  { label: 'chosen detectors, mobileface 256-d (human-models 3.0.4), ArcFace crop 112 + mirror, L2', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'mobileface' } },
  { label: 'chosen detectors, faceres 1024-d (human 3.3.6), dlib chip 224 + mirror, L2', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'faceres' } },
  { label: 'chosen detectors, mobilefacenet 192-d (human-models 3.0.4), ArcFace crop 112 + mirror, L2', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'mobilefacenet' } },
  { label: 'fusion: chosen 128-d (weight 0.7) + faceres-deep 1024-d on its chip', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'fusion', fusionWeight: 0.7, fusionWith: 'faceres-deep' } },
  { label: 'fusion: chosen 128-d (weight 0.7) + faceres 1024-d on its chip', pipeline: { ...DEFAULT_PIPELINE, descriptor: 'fusion', fusionWeight: 0.7, fusionWith: 'faceres' } },
];

import { FAR_LEVELS } from './accuracy/metrics.ts';

// ---------------------------------------------------------------------------------------------

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
/** An enrollment result for --json: figures only (its distances are millions of numbers). */
const withoutDistances = ({ distances: _, ...figures }: EnrollmentResult) => figures;

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
      'max-yaw': { type: 'string' },
      'min-sharpness': { type: 'string' },
      seed: { type: 'string', default: '1' },
      only: { type: 'string' },
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
  // --only 0,10,11: a subset of COMPARE_PIPELINES (indices; 0, the production pipeline, always first).
  const only = values.only ? [...new Set([0, ...values.only.split(',').map(Number)])] : undefined;
  if (only?.some((i) => !Number.isInteger(i) || !COMPARE_PIPELINES[i])) throw new Error(`--only: indices 0..${COMPARE_PIPELINES.length - 1}`);
  const compare = only ? only.map((i) => COMPARE_PIPELINES[i]!) : values.compare ? COMPARE_PIPELINES : COMPARE_PIPELINES.slice(0, 1);
  const pipelines = compare.map((c) => c.pipeline);
  console.error(`[accuracy] ${ds.keys.length} images, ${ds.pairsSource}; ${pipelines.length} pipeline(s); ${workers} worker(s)`);

  // Descriptors of every image for every pipeline, both cores busy (2 tasks in flight per worker).
  // The workers run with no minimum face size; the production minimum (the last check of the
  // pipeline, after "exactly one face") is applied here, so that its effect can be reported.
  const minFaceSize = values['min-face'] ? Number(values['min-face']) : DEFAULT_DETECTION_LIMITS.minFaceSize;
  // The quality gate likewise: off in the workers, applied here (and swept: "Quality gate").
  const gate: QualityRule = {
    maxYaw: values['max-yaw'] ? Number(values['max-yaw']) : DEFAULT_DETECTION_LIMITS.maxYaw,
    minSharpness: values['min-sharpness'] ? Number(values['min-sharpness']) : DEFAULT_DETECTION_LIMITS.minSharpness,
  };
  const analyser = await createFaceAnalyser({ workers, pipelines, maxQueue: 1_000_000, detection: { minFaceSize: 0, maxYaw: Number.POSITIVE_INFINITY, minSharpness: 0 } });
  const faceSizes: number[] = new Array<number>(ds.keys.length).fill(Number.NaN);
  const quality: (FaceQuality | undefined)[] = new Array<FaceQuality | undefined>(ds.keys.length);
  const ungated: Outcome[] = new Array<Outcome>(ds.keys.length);
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
        const { results, timings } = await analyser.analyse(readFileSync(ds.files[i]!), { variants });
        results.forEach((r, v) => {
          const sized: Outcome = !r.ok ? r.code : r.faceSize < minFaceSize ? 'face_too_small' : r.descriptor;
          outcomes[v]![i] = gated([sized], [r.ok ? r.quality : undefined], gate)[0]!;
          if (v === 0) ungated[i] = sized;
          if (v === 0 && r.ok) {
            faceSizes[i] = r.faceSize;
            outcomesRaw[i] = r.descriptor;
            quality[i] = r.quality;
          }
          if (r.ok) retries[v]![r.detector] = (retries[v]![r.detector] ?? 0) + 1;
        });
        for (const key of Object.keys(phase) as (keyof typeof phase)[]) phase[key].push(timings[key]);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'error';
        for (const o of outcomes) o[i] = code;
        ungated[i] = code;
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
  // K-image templates for every pipeline. The consensus rule's outlier distance (0.45 for the
  // 128-d) is moved to each descriptor's own scale: the distance that the same share of its
  // impostor pairs falls below as falls below 0.45 for the first pipeline.
  const agreeShare = countBelow(perPipeline[0]!.imp, DEFAULT_CONSENSUS_LIMITS.agreeDistance) / perPipeline[0]!.imp.length;
  const templates = perPipeline.map((p, v) => {
    const agree = v === 0 ? DEFAULT_CONSENSUS_LIMITS.agreeDistance : thresholdAtFar(p.imp, agreeShare);
    return { agree, result: k > 1 ? enrollment(ds, outcomes[v]!, k, threshold, p.pipeline.normalise, impostorCap, seed, agree) : null };
  });

  let timings: { median: number; p95: number }[] | undefined;
  if (values.compare || only) {
    const sample = ds.files.slice(0, Number(values['time-sample']));
    console.error(`[accuracy] timing each pipeline alone on ${sample.length} images (1 worker)`);
    timings = await timePipelines(pipelines, sample);
  }

  // Comparison table
  lines.push('### Pipelines on the same images and pairs', '');
  lines.push(`Dimensions: ${perPipeline.map((p, v) => `#${v + 1} ${pipelineDimension(p.pipeline)}`).join(', ')}.`, '');
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
  if (k > 1) {
    lines.push(`#### ${k}-image templates vs single images, every pipeline (FRR: all = failures to enroll and to acquire counted as rejects; acquired = enrolled identities' acquired probes)`, '');
    lines.push(formatTable(
      ['#', 'agree distance', 'identities', 'failed to enroll', 'probes', ...FAR_LEVELS.map((f) => `FRR @ FAR ${f}: all (acquired), thr`)],
      templates.map((t, v) => {
        const e = t.result;
        if (!e) return [v + 1, t.agree.toFixed(3), '-', '-', '-', ...FAR_LEVELS.map(() => '-')];
        return [v + 1, t.agree.toFixed(3), e.identities, e.failedToEnroll, e.verification.genuineAttempts, ...e.verification.atFar.map((a) => `${pct(1 - a.tar)} (${pct(1 - a.tarAcquired)}), ${a.threshold.toFixed(4)}`)];
      }),
    ));
    lines.push('', `Agree distance: the consensus rule's outlier distance on each descriptor's scale (${DEFAULT_CONSENSUS_LIMITS.agreeDistance} for #1; for the others the distance below which the same share of impostor pairs falls, ${(100 * agreeShare).toFixed(2)}%).`, '');
  }

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

  // The quality gate (src/face/quality.ts): what each rule refuses and what it buys, one run.
  let gateRows: GateRow[] = [];
  {
    const measured = quality.filter((q): q is FaceQuality => q !== undefined);
    if (measured.length) {
      const yaws = measured.map((q) => Math.abs(q.yaw)).sort((a, b) => a - b), sharp = measured.map((q) => q.sharpness).sort((a, b) => a - b);
      const off = { maxYaw: Number.POSITIVE_INFINITY, minSharpness: 0 };
      const rules = [
        { label: 'off', rule: off },
        ...[0.35, 0.4, 0.45].map((y) => ({ label: `abs(yaw) <= ${y}`, rule: { ...off, maxYaw: y } })),
        ...[0.08, 0.09, 0.1, 0.11].map((m) => ({ label: `sharpness >= ${m}`, rule: { ...off, minSharpness: m } })),
        ...[[0.4, 0.09], [0.45, 0.09], [0.4, 0.1]].map(([y, m]) => ({ label: `abs(yaw) <= ${y}, sharpness >= ${m}`, rule: { maxYaw: y!, minSharpness: m! } })),
        { label: `this run: abs(yaw) <= ${gate.maxYaw}, sharpness >= ${gate.minSharpness}`, rule: gate },
      ];
      gateRows = qualitySweep(ds, ungated, quality, rules, { k, threshold, normalise: DEFAULT_PIPELINE.normalise, cap: impostorCap, seed });
      lines.push('### Quality gate (pose and sharpness, src/face/quality.ts)', '');
      lines.push(`Acquired faces: |yaw| p50 ${median(yaws).toFixed(3)}, p90 ${percentile(yaws, 90).toFixed(3)}, p99 ${percentile(yaws, 99).toFixed(3)} jaw widths; sharpness p1 ${percentile(sharp, 1).toFixed(3)}, p5 ${percentile(sharp, 5).toFixed(3)}, median ${median(sharp).toFixed(3)}.`, '');
      lines.push(formatTable(
        ['rule', 'refused (turned, blurred)', `FRR @ ${threshold}, pairs it refuses`, `FRR @ ${threshold}, pairs it keeps`, `single: FAR @ ${threshold}, FRR @ FAR 1e-4 all (acquired)`, `${k}-image template: FTE, FAR @ ${threshold}, FRR @ FAR 1e-4 all (acquired)`],
        gateRows.map((g) => [
          g.label,
          `${pct((g.refused.turned + g.refused.blurred) / g.refused.of)} (${g.refused.turned}, ${g.refused.blurred})`,
          g.frrRefusedPairs.pairs ? `${pct(g.frrRefusedPairs.frr)} of ${g.frrRefusedPairs.pairs}` : '-',
          `${pct(g.frrKeptPairs.frr)} of ${g.frrKeptPairs.pairs}`,
          `${g.single.far.toExponential(2)}, ${pct(g.single.frrAt1e4)} (${pct(g.single.frrAt1e4Acquired)})`,
          g.template ? `${g.template.failedToEnroll}, ${g.template.far.toExponential(2)}, ${pct(g.template.frrAt1e4)} (${pct(g.template.frrAt1e4Acquired)})` : '-',
        ]),
      ));
      lines.push('', 'Refused images count as failures to acquire (to enroll, in a template\'s first K images). "Pairs it refuses": acquired genuine pairs, gate off, with an image the rule refuses: how often the gate turns a false reject into advice. On a live camera a refused frame is followed by others (the page says what to change); on LFW a refused photo is final.', '');
    }
  }

  // Enrollment with K images
  // K = k for the production pipeline is templates[0] (same rule, same agree distance): not again.
  const enrolled: EnrollmentResult[] = [];
  for (const kk of [...new Set([1, k])].filter((x) => x >= 1)) {
    const e = kk === k && k > 1 ? templates[0]!.result : enrollment(ds, o0, kk, threshold, DEFAULT_PIPELINE.normalise, impostorCap, seed);
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

  // The threshold for FAR <= 1e-4 (NIST SP 800-63B-4) on what the encrypted path decides, in the
  // production configuration: a K-frame template against a probe (here one photo: a sign-in's
  // probe is the mean of up to 3 frames of one burst, near-duplicates of one look, and LFW has
  // no bursts), with the 95% upper bound of FAR held at 1e-4 too.
  let farTarget: Record<string, unknown> | undefined;
  const measure = quantisedMeasure();
  const quantisedTemplates = k > 1 ? enrollment(ds, o0, k, threshold, DEFAULT_PIPELINE.normalise, impostorCap, seed, DEFAULT_CONSENSUS_LIMITS.agreeDistance, measure) : null;
  if (quantisedTemplates) {
    const { genuine, impostors } = quantisedTemplates.distances;
    const n = impostors.length;
    const chosen = thresholdsForFar(impostors, 1e-4);
    // The quantised measure's claim, tried: at each threshold it decides as plainDecision does,
    // on random cross-identity pairs and on every genuine pair, near the threshold above all.
    const acquired = o0.flatMap((x, i) => (typeof x === 'string' ? [] : [i]));
    const r = rng(seed + 4);
    let checked = 0, differ = 0;
    for (const t of [chosen.bound?.threshold ?? chosen.point.threshold, threshold]) {
      for (let tries = 0; tries < 200_000; tries += 1) {
        const a = o0[acquired[Math.floor(r() * acquired.length)]!] as Float32Array, b = o0[acquired[Math.floor(r() * acquired.length)]!] as Float32Array;
        if (Math.abs(distance(a, b) - t) > 0.05 && tries % 20 !== 0) continue;
        checked += 1;
        if ((measure(a, b) < t) !== plainDecision(a, b, t)) differ += 1;
      }
    }
    const rows: (string | number)[][] = [];
    const row = (label: string, t: number) => {
      const v = verification(genuine, impostors, t);
      const accepted = countBelow(impostors, t);
      const upper = upperBound(accepted, n);
      rows.push([label, t.toFixed(4), `${accepted} / ${n.toLocaleString('en-US')} = ${(accepted / n).toExponential(2)}`, upper.toExponential(2), `${pct(v.frr)} (${pct(v.frrAcquired)})`]);
      return { threshold: t, impostorsAccepted: accepted, far: accepted / n, farUpper95: upper, frr: v.frr, frrAcquired: v.frrAcquired };
    };
    const point = row('FAR <= 1e-4 (point estimate)', chosen.point.threshold);
    const bound = chosen.bound && row('95% upper bound of FAR <= 1e-4', chosen.bound.threshold);
    if (!bound) rows.push(['95% upper bound of FAR <= 1e-4', `not shown by ${n.toLocaleString('en-US')} comparisons (needs about 30,000)`, '', '', '']);
    const configured = row('configured', threshold);
    farTarget = { impostorComparisons: n, templates: quantisedTemplates.identities - quantisedTemplates.failedToEnroll, point, bound, configured, decisionCheck: { checked, differ } };
    lines.push(`### Threshold for FAR <= 1e-4 on the encrypted decision (${k}-image template vs one image)`, '');
    lines.push(formatTable(['threshold for', 'threshold', 'impostors accepted (FAR)', 'FAR, 95% upper bound', 'FRR: all (acquired)'], rows));
    lines.push('', `Distances as the encrypted match decides them (quantised, src/he); ${quantisedTemplates.identities - quantisedTemplates.failedToEnroll} templates of ${quantisedTemplates.identities} identities against every acquired image of the other identities. Upper bound: one-sided Clopper-Pearson, comparisons taken as independent (they share templates and probes, so the real uncertainty is larger). Quantised measure vs plainDecision on ${checked.toLocaleString('en-US')} pairs (most within 0.05 of a threshold): ${differ} differ.`, '');
  }

  // Multi-image probes: the same templates against one photo and against the consensus of two.
  let fusion: FusionResult | null = null;
  if (k > 1) {
    fusion = probeFusion(ds, o0, { k, m: 2, threshold, normalise: DEFAULT_PIPELINE.normalise, measure });
    if (fusion) {
      const f = fusion;
      const row = (label: string, v: Verification) => {
        const accepted = Math.round(v.far * v.impostorPairs);
        return [label, v.genuineAttempts, `${accepted} / ${v.impostorPairs.toLocaleString('en-US')} = ${v.far.toExponential(2)} (UB ${upperBound(accepted, v.impostorPairs).toExponential(2)})`, `${pct(v.frr)} (${pct(v.frrAcquired)})`, ...v.atFar.slice(1).map((a) => `${pct(1 - a.tar)} (${pct(1 - a.tarAcquired)}), ${a.threshold.toFixed(4)}`)];
      };
      lines.push(`### Multi-image probe (${k}-image template vs the consensus of ${f.m} photos, encrypted decision)`, '');
      lines.push(formatTable(
        ['probe', 'genuine probes', `impostors accepted @ ${threshold} (FAR, 95% UB)`, `FRR @ ${threshold}: all (acquired)`, 'FRR @ FAR 1e-3: all (acquired), thr', 'FRR @ FAR 1e-4: all (acquired), thr'],
        [row('one photo (each of the two)', f.single), row(`consensus of ${f.m} photos (engine.probe's rule)`, f.fused)],
      ));
      // The threshold must hold for the probe that sits nearest everyone: the consensus.
      const rows: (string | number)[][] = [];
      for (const [label, d] of [['one photo', f.distances.single], [`consensus of ${f.m} photos`, f.distances.fused]] as const) {
        const chosen = thresholdsForFar(d.impostors, 1e-4);
        for (const [what, t] of [['point estimate', chosen.point.threshold], ['95% upper bound', chosen.bound?.threshold]] as const) {
          if (t === undefined) continue;
          const v = verification(d.genuine, d.impostors, t);
          rows.push([label, `FAR <= 1e-4, ${what}`, t.toFixed(4), `${pct(v.frr)} (${pct(v.frrAcquired)})`]);
        }
      }
      lines.push('', formatTable(['probe', 'threshold for', 'threshold', 'FRR there: all (acquired)'], rows));
      lines.push('', `Genuine: ${f.identities} identities with at least ${k + f.m} images (${f.failedToEnroll} failed to enroll), the template of the first ${k} against the next ${f.m}. Impostors: every template against every acquired photo of another identity (one photo), or against the consensus of pairs of another identity's photos (at most 45 pairs per identity). LFW's photos of a person are years apart; a burst's frames are a fraction of a second apart and nearly alike, so a burst's consensus buys less on the genuine side than this, and shifts impostors less.`, '');
    }
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
      pipelines: perPipeline.map((p, v) => ({ label: p.label, key: p.key, dimension: pipelineDimension(p.pipeline), fta: p.fta, refusals: p.refusals, detectorUsed: p.detectorUsed, official: p.official, timing: timings?.[v], templates: { agree: templates[v]!.agree, result: templates[v]!.result && withoutDistances(templates[v]!.result!) } })),
      phases: Object.fromEntries((Object.keys(phase) as (keyof typeof phase)[]).map((key) => [key, { median: median(phase[key]), p95: percentile(phase[key], 95) }])),
      enrollment: enrolled.map(withoutDistances),
      farTarget,
      qualityGate: gateRows,
      multiImageProbe: fusion && (({ distances: _, ...figures }) => figures)(fusion),
      encrypted,
      thresholdAtFar1e3: suggested,
      templateThresholdAtFar1e3: templateThreshold,
    });
    await mkdir(path.dirname(path.resolve(values.json)), { recursive: true });
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

await main();
