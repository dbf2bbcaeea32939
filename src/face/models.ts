import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApiModule from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { readCandidate, type CandidateName } from './candidates.ts';

/**
 * Loads the inference stack once per worker thread: TensorFlow.js on the WASM backend (SIMD; the
 * pure-JS cpu backend is ~40x slower and is never selected) and face-api's networks from the
 * installed package. @tensorflow/tfjs-node cannot be installed here, hence the WASM build.
 * Models are read from node_modules with fs: nothing is fetched from the network.
 */

const require = createRequire(import.meta.url);

export type FaceApi = typeof FaceApiModule;
/** face-api's typings declare only a subset of tf: the few calls used here, typed locally. */
export type Tensor3D = Parameters<FaceApi['extractFaceTensors']>[0] & { dispose(): void };
export interface Tf {
  setWasmPaths(prefix: string): void;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  tensor3d(values: Uint8Array | Int32Array | Float32Array, shape: [number, number, number], dtype: 'int32' | 'float32'): Tensor3D;
  memory(): { numTensors: number; numBytes: number };
  reverse(x: Tensor3D, axis: number): Tensor3D;
  tensor4d(values: Float32Array, shape: [number, number, number, number], dtype: 'float32'): GraphTensor;
  loadGraphModel(handler: { load: () => Promise<unknown> }): Promise<GraphModel>;
  io: TfIo;
}

/** The little of tfjs's GraphModel and Tensor the candidate descriptors use. */
export interface GraphTensor {
  data(): Promise<Float32Array>;
  dispose(): void;
}
export interface GraphModel {
  execute(input: GraphTensor, output: string): GraphTensor;
}

export const FACE_API_VERSION: string = (require('@vladmandic/face-api/package.json') as { version: string }).version;

export interface HumanInstance {
  detect(input: unknown): Promise<{ face: { score: number; box: [number, number, number, number]; embedding?: number[] }[] }>;
}

export interface Models {
  readonly faceapi: FaceApi;
  readonly tf: Tf;
  /** Loaded only when a pipeline uses human's faceres descriptor (benchmark comparisons). */
  human: HumanInstance | null;
  /** Candidate descriptor networks (candidates.ts), loaded only when a pipeline uses them. */
  readonly graphs: Map<CandidateName, GraphModel>;
}

let loading: Promise<Models> | undefined;

export function loadModels(options: { human?: boolean; graphs?: readonly CandidateName[] } = {}): Promise<Models> {
  loading ??= (async () => {
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    const tf = faceapi.tf as unknown as Tf;
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
    tf.setWasmPaths(`${wasmDir}${path.sep}`);
    if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js WASM backend failed to initialise');
    await tf.ready();
    if (tf.getBackend() !== 'wasm') throw new Error(`unexpected TensorFlow.js backend ${tf.getBackend()}`);
    const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
    await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
    await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
    return { faceapi, tf, human: null, graphs: new Map() };
  })();
  return loading.then(async (m) => {
    if (options.human) m.human ??= await loadHuman(m.tf);
    for (const name of options.graphs ?? []) if (!m.graphs.has(name)) m.graphs.set(name, await loadCandidate(m.tf, name));
    return m;
  });
}

/** A candidate graph model from its pinned, hash-checked files (no fetch, no file:// router). */
async function loadCandidate(tf: Tf, name: CandidateName): Promise<GraphModel> {
  const { json, weights } = readCandidate(name);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  return tf.loadGraphModel({
    load: async () => ({ modelTopology: json.modelTopology, weightSpecs, weightData: weights, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy }),
  });
}

/**
 * @vladmandic/human's node-wasm build. Its package "exports" map lacks "./" prefixes, so the file
 * is located next to the resolved main entry; its model loader only knows fetch(), which cannot
 * read file:// URLs in Node, so a file:// load router reading from disk is registered first.
 */
async function loadHuman(tf: Tf): Promise<HumanInstance> {
  const humanDir = path.dirname(require.resolve('@vladmandic/human'));
  const modelDir = path.join(humanDir, '..', 'models');
  const io = tf.io;
  io.registerLoadRouter((url: unknown) => {
    if (typeof url !== 'string' || !url.startsWith('file://')) return null;
    const file = url.slice('file://'.length);
    return {
      load: async () => {
        const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        return io.getModelArtifactsForJSON(json, async (manifest: { paths: string[]; weights: unknown[] }[]) => {
          const specs: unknown[] = [];
          const parts: Buffer[] = [];
          for (const group of manifest) {
            specs.push(...group.weights);
            for (const p of group.paths) parts.push(readFileSync(path.join(path.dirname(file), p)));
          }
          const all = Buffer.concat(parts);
          return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
        });
      },
    };
  });
  const mod = require(path.join(humanDir, 'human.node-wasm.js')) as { Human: new (config: unknown) => HumanInstance & { load(): Promise<void> } };
  const human = new mod.Human({
    backend: 'wasm',
    modelBasePath: `file://${modelDir}/`,
    cacheModels: false,
    debug: false,
    warmup: 'none',
    // No frame-to-frame caching: every call is a different person's frame.
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    gesture: { enabled: false },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
    face: {
      enabled: true,
      detector: { rotation: true, maxDetected: 5, minConfidence: 0.2, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      emotion: { enabled: false },
      description: { enabled: true },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
  });
  await human.load();
  return human;
}

interface TfIo {
  registerLoadRouter(router: (url: unknown) => { load: () => Promise<unknown> } | null): void;
  getModelArtifactsForJSON(json: unknown, loadWeights: (manifest: { paths: string[]; weights: unknown[] }[]) => Promise<[unknown[], ArrayBuffer]>): Promise<unknown>;
}
