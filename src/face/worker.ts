import { parentPort, workerData } from 'node:worker_threads';
import { isAppError } from '../shared/index.ts';
import { decodeFrame, type RgbImage } from './decode.ts';
import { loadModels, type Models } from './models.ts';
import { candidatesOf, FrameAnalysis, needsHuman } from './pipeline.ts';
import type { DescribeRequest, DescribeResponse, VariantResult, WorkerInit } from './protocol.ts';

/**
 * Worker thread: loads the models once, then turns frames into descriptors, one at a time.
 * Frames arrive as transferred ArrayBuffers and are zeroed once decoded; nothing is logged or
 * written anywhere. Descriptors go back as transferred buffers.
 */
const port = parentPort;
if (!port) throw new Error('src/face/worker.ts must run in a worker thread');
const init = workerData as WorkerInit;

async function handle(models: Models, msg: DescribeRequest & { id: number }): Promise<DescribeResponse> {
  const start = performance.now();
  const bytes = new Uint8Array(msg.frame);
  let image: RgbImage | undefined;
  let analysis: FrameAnalysis | undefined;
  try {
    image = await decodeFrame(bytes, init.frameLimits);
    const decode = performance.now() - start;
    bytes.fill(0);
    analysis = new FrameAnalysis(models, image, init.detectionLimits);
    const results: VariantResult[] = [];
    for (const v of msg.variants ?? [0]) {
      const pipeline = init.pipelines[v];
      if (!pipeline) throw new Error(`unknown pipeline ${v}`);
      results.push(await analysis.run(pipeline, { observe: msg.observe, near: msg.near }));
    }
    return { id: msg.id, ok: true, results, timings: { ...analysis.timings, decode } };
  } catch (error) {
    if (isAppError(error)) return { id: msg.id, ok: false, code: error.code, message: error.message };
    throw error;
  } finally {
    bytes.fill(0);
    image?.data.fill(0);
    analysis?.dispose();
  }
}

/**
 * The first inference of each network compiles its WASM kernels (~300 ms): pay it at start-up,
 * not on a user's first login. A plain grey frame runs the detectors; a synthetic face box runs
 * landmarks and the descriptor network.
 */
async function warmUp(models: Models): Promise<void> {
  const image = { data: new Uint8Array(320 * 240 * 3).fill(128), width: 320, height: 240 };
  const analysis = new FrameAnalysis(models, image, { ...init.detectionLimits, minScore: 2 });
  try {
    for (const pipeline of init.pipelines) await analysis.run(pipeline);
    for (const pipeline of init.pipelines) {
      if (pipeline.descriptor !== 'faceres1024') await analysis.warmDescriptor({ x: 100, y: 60, width: 120, height: 120, score: 1 }, pipeline);
    }
  } finally {
    analysis.dispose();
  }
}

async function start(): Promise<Models> {
  const models = await loadModels({ human: init.pipelines.some(needsHuman), graphs: [...new Set(init.pipelines.flatMap(candidatesOf))] });
  await warmUp(models);
  return models;
}

start().then(
  (models) => {
    port.on('message', (msg: DescribeRequest & { id: number }) => {
      handle(models, msg).then(
        (response) => port.postMessage(response, response.ok ? response.results.flatMap((r) => (r.ok ? [r.descriptor.buffer as ArrayBuffer] : [])) : []),
        // Unexpected errors: crash the thread, so that the pool rejects the task with
        // face_engine_unavailable and replaces the worker with a clean WASM heap.
        (error: unknown) => setImmediate(() => {
          throw error;
        }),
      );
    });
    port.postMessage({ type: 'ready' });
  },
  (error: unknown) => port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
);
