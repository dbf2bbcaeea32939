/**
 * Face engine speed on 640x480 webcam-like frames: decode, detection, landmarks and descriptor,
 * single-threaded and with the worker pool. Frames are made in memory from real photos
 * (face_recognition/* in FACES_DIR, else crops of face-api's demo photos), each scaled so the face
 * is ~200 px wide (a user at arm's length) and placed on a 640x480 canvas.
 *
 *   node bench/faces.ts [--runs 5] [--workers N] [--json OUT]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createFaceAnalyser, DEFAULT_PIPELINE, FRAME_LIMITS, modelVersionOf, type FaceAnalyser } from '../src/face/research.ts';
import { demoFaces, facesDir, webcamFrame } from '../support/faces.ts';
import { formatTable, median, percentile } from './lib/table.ts';

export interface FaceBenchOptions {
  /** Rounds over the frame set (default 5). */
  runs?: number;
  /** Pool size for the throughput run (default os.availableParallelism()). */
  workers?: number;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

export interface FaceBenchResult {
  readonly markdown: string;
  readonly modelVersion: string;
  readonly frames: number;
  /** Single worker, one frame at a time: ms per phase and end-to-end. */
  readonly singleThread: Record<'decode' | 'detect' | 'landmarks' | 'descriptor' | 'total' | 'endToEnd', { median: number; p95: number }>;
  /** frames/s per round (median, and the 5th percentile: the slow tail), one worker vs the pool; latency per frame under that load. */
  readonly throughput: { workers: number; framesPerSecond: { median: number; p5: number }; latencyMs: { median: number; p95: number } }[];
}

async function sourcePhotos(): Promise<Buffer[]> {
  const dir = facesDir();
  const root = dir ? path.join(dir, 'face_recognition') : undefined;
  if (root && existsSync(root)) {
    const photos: Buffer[] = [];
    for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const person = entry.name;
      if (!entry.isDirectory() || person.startsWith('_')) continue; // files, group photos
      for (const f of readdirSync(path.join(root, person)).sort()) if (/\.jpe?g$/i.test(f)) photos.push(readFileSync(path.join(root, person, f)));
    }
    if (photos.length) return photos;
  }
  return (await demoFaces()).map((f) => f.image);
}

/** 640x480 frames with a ~200 px face, positioned using the engine's own detection of each photo. */
async function makeFrames(analyser: FaceAnalyser, photos: Buffer[]): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  for (const photo of photos) {
    try {
      const { results } = await analyser.analyse(photo);
      const r = results[0];
      if (!r?.ok) continue;
      const meta = await sharp(photo).rotate().metadata();
      const scale = Math.max(meta.width!, meta.height!) / Math.min(Math.max(meta.width!, meta.height!), FRAME_LIMITS.workingSide);
      const face = { x: r.face.x * scale, y: r.face.y * scale, width: r.face.width * scale, height: r.face.height * scale };
      frames.push(await webcamFrame(photo, { face, faceWidth: 200, centerY: 220 }));
    } catch {
      // photos the engine refuses are simply not used
    }
  }
  return frames;
}

const stat = (values: number[]) => ({ median: median(values), p95: percentile(values, 95) });

export async function runFaceBench(options: FaceBenchOptions = {}): Promise<FaceBenchResult> {
  const runs = options.runs ?? 5;
  const poolSize = Math.max(1, options.workers ?? os.availableParallelism());
  const log = options.log ?? (() => undefined);

  const single = await createFaceAnalyser({ workers: 1 });
  let frames: Buffer[];
  const phases = { decode: [] as number[], detect: [] as number[], landmarks: [] as number[], descriptor: [] as number[], total: [] as number[], endToEnd: [] as number[] };
  const throughput: FaceBenchResult['throughput'] = [];
  const measureThroughput = async (analyser: FaceAnalyser, workers: number) => {
    const rates: number[] = [];
    const latency: number[] = [];
    for (let round = 0; round < runs; round += 1) {
      const start = performance.now();
      let next = 0;
      // Two frames in flight per worker keep every worker busy without queueing far ahead.
      await Promise.all(Array.from({ length: workers * 2 }, async () => {
        while (next < frames.length) {
          const t = performance.now();
          await analyser.analyse(frames[next++]!);
          latency.push(performance.now() - t);
        }
      }));
      rates.push((frames.length * 1000) / (performance.now() - start));
    }
    throughput.push({ workers, framesPerSecond: { median: median(rates), p5: percentile(rates, 5) }, latencyMs: stat(latency) });
  };
  try {
    frames = await makeFrames(single, await sourcePhotos());
    if (frames.length === 0) throw new Error('no usable photo to make frames from');
    log(`[faces] ${frames.length} frames of 640x480, ${runs} rounds`);
    for (let round = 0; round < runs; round += 1) {
      for (const frame of frames) {
        const start = performance.now();
        const { results, timings } = await single.analyse(frame);
        phases.endToEnd.push(performance.now() - start);
        if (!results[0]?.ok) throw new Error(`a bench frame was refused (${results[0]?.ok === false ? results[0].code : '?'})`);
        phases.decode.push(timings.decode);
        phases.detect.push(timings.detect);
        phases.landmarks.push(timings.landmarks);
        phases.descriptor.push(timings.descriptor);
        phases.total.push(timings.decode + timings.detect + timings.landmarks + timings.descriptor);
      }
    }
    await measureThroughput(single, 1);
  } finally {
    await single.close();
  }
  if (poolSize > 1) {
    const pool = await createFaceAnalyser({ workers: poolSize });
    try {
      await measureThroughput(pool, poolSize);
    } finally {
      await pool.close();
    }
  }

  const singleThread = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, stat(v)])) as FaceBenchResult['singleThread'];
  const labels: Record<keyof typeof phases, string> = {
    decode: 'decode (validate + sharp to RGB)',
    detect: 'detect (Tiny 320; SSD, then SSD zoomed-out, only if no face)',
    landmarks: 'landmarks (68 points)',
    descriptor: 'descriptor (dlib chip, 128-d ResNet on chip + mirror)',
    total: 'total inside the worker',
    endToEnd: 'end-to-end describe() incl. thread hop',
  };
  const modelVersion = modelVersionOf(DEFAULT_PIPELINE);
  const markdown = [
    `### Face engine, 640x480 frames (${frames.length} frames x ${runs} rounds, ${os.availableParallelism()} cores)`,
    '',
    `Model \`${modelVersion}\`, WASM backend (SIMD), one frame at a time on one worker:`,
    '',
    formatTable(['phase', 'median ms', 'p95 ms'], (Object.keys(labels) as (keyof typeof phases)[]).map((k) => [labels[k], singleThread[k].median.toFixed(1), singleThread[k].p95.toFixed(1)])),
    '',
    'Throughput, two frames in flight per worker:',
    '',
    formatTable(['workers', 'frames/s median', 'frames/s 5th pct (slow rounds)', 'speed-up', 'latency median ms', 'latency p95 ms'], throughput.map((t) => [
      t.workers,
      t.framesPerSecond.median.toFixed(2),
      t.framesPerSecond.p5.toFixed(2),
      `${(t.framesPerSecond.median / throughput[0]!.framesPerSecond.median).toFixed(2)}x`,
      t.latencyMs.median.toFixed(0),
      t.latencyMs.p95.toFixed(0),
    ])),
  ].join('\n');
  return { markdown, modelVersion, frames: frames.length, singleThread, throughput };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, workers: { type: 'string' }, json: { type: 'string' } } });
  const result = await runFaceBench({
    runs: values.runs ? Number(values.runs) : undefined,
    workers: values.workers ? Number(values.workers) : undefined,
    log: (m) => console.error(m),
  });
  console.log(result.markdown);
  if (values.json) {
    const { markdown: _markdown, ...figures } = result;
    await writeFile(values.json, `${JSON.stringify(figures, null, 2)}\n`);
  }
}
