/** Milliseconds per image of each compared pipeline (the analyser on one worker). */
import { readFileSync } from 'node:fs';
import { createFaceAnalyser, type PipelineConfig } from '../../src/face/research.ts';
import { median, percentile } from '../lib/table.ts';

// ---------------------------------------------------------------------------------------------
// Timing of each pipeline alone (one worker, sequential): what a frame costs with that pipeline.

export async function timePipelines(pipelines: PipelineConfig[], files: string[]): Promise<{ median: number; p95: number }[]> {
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
