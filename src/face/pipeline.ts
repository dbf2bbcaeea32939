import { chipTransform, extractChip, type Point } from './align.ts';
import { appearanceOf } from './appearance.ts';
import { arcfaceTransform, CANDIDATES, encodePixels, isCandidate, type CandidateName } from './candidates.ts';
import type { RgbImage } from './decode.ts';
import { faceError, type FaceErrorCode } from './errors.ts';
import type { DetectionLimits } from './limits.ts';
import type { Models, Tensor3D } from './models.ts';
import { qualityRefusal, sharpnessOf, yawOf, type FaceQuality } from './quality.ts';
import { selectSubject } from './subject.ts';
import type { Detection, FrameTimings, VariantResult } from './protocol.ts';

/**
 * One frame -> one descriptor, inside a worker thread. Configurable so that bench/accuracy.ts can
 * compare pipelines on the same frames (detections, landmarks and descriptors are memoised per
 * frame and shared between the pipelines being compared); production uses DEFAULT_PIPELINE.
 */

export interface DetectorSpec {
  readonly net: 'ssd' | 'tiny' | 'blazeface';
  /** Margin added on every side, as a fraction of the image size, before detecting (zoom out). */
  readonly pad?: number;
  /**
   * TinyFaceDetector's smallest input size (multiple of 32). The input grows with the frame, to
   * half its longer side (at most 608), so that faces in large photos keep enough pixels to be
   * seen (and counted: multiple_faces). A 640x480 webcam frame and LFW's 250x250 use 320.
   */
  readonly inputSize?: number;
}

export interface PipelineConfig {
  /** Tried in order until one finds a face (a retry when the previous one found none). */
  readonly detectors: readonly DetectorSpec[];
  /** 'dlib': rotated 150x150 chip fitted to 33 landmarks; 'box': face-api's axis-aligned crop. */
  readonly align: 'dlib' | 'box';
  /**
   * 'rec128': face-api's 128-d network on the chip of `align`; 'faceres1024': human's own
   * pipeline (its detector, mesh and crop); a candidate name (candidates.ts): that network on its
   * own alignment from our 68 landmarks; 'fusion': 128-d and `fusionWith` concatenated.
   */
  readonly descriptor: 'rec128' | 'faceres1024' | 'fusion' | CandidateName;
  /** Average the descriptors of the chip and of its mirror image (test-time augmentation). */
  readonly mirror?: boolean;
  /** Weight of the 128-d part in a fusion (squared-distance weight). */
  readonly fusionWeight?: number;
  /** The other part of a fusion (default faceres1024). */
  readonly fusionWith?: 'faceres1024' | CandidateName;
  /** L2-normalise the output. */
  readonly normalise: boolean;
}

export type { Detection, FrameTimings, VariantResult } from './protocol.ts';

/** What makes one frame unusable (a typed refusal of the frame, not of the request). */
const FRAME_REFUSALS = ['no_face', 'multiple_faces', 'face_too_small', 'face_turned', 'face_blurred'] as const satisfies readonly FaceErrorCode[];

const detectorKey = (d: DetectorSpec) => `${d.net}${d.inputSize ?? ''}${d.pad ? `pad${Math.round(d.pad * 100)}` : ''}`;

export function pipelineKey(p: PipelineConfig): string {
  const det = p.detectors.map(detectorKey).join('+');
  const partner = p.fusionWith && p.fusionWith !== 'faceres1024' ? `+${p.fusionWith}` : '';
  const desc = p.descriptor === 'fusion' ? `fusion${Math.round((p.fusionWeight ?? 0.5) * 100)}${partner}` : p.descriptor;
  return `${det}-lm68-${p.align === 'dlib' ? 'dlibchip150' : 'boxcrop'}${p.mirror ? '-mirror' : ''}-${desc}${p.normalise ? '-l2' : ''}`;
}

const dimensionOf = (d: 'rec128' | 'faceres1024' | CandidateName) => (d === 'rec128' ? 128 : d === 'faceres1024' ? 1024 : CANDIDATES[d].dimension);

export function pipelineDimension(p: PipelineConfig): number {
  return p.descriptor === 'fusion' ? 128 + dimensionOf(p.fusionWith ?? 'faceres1024') : dimensionOf(p.descriptor);
}

export function needsHuman(p: PipelineConfig): boolean {
  const usesFaceres = p.descriptor === 'faceres1024' || (p.descriptor === 'fusion' && (p.fusionWith ?? 'faceres1024') === 'faceres1024');
  return usesFaceres || p.detectors.some((d) => d.net === 'blazeface');
}

/** Candidate networks a pipeline runs (loaded by the worker at start). */
export function candidatesOf(p: PipelineConfig): CandidateName[] {
  const d = p.descriptor === 'fusion' ? p.fusionWith : p.descriptor;
  return d !== undefined && isCandidate(d) ? [d] : [];
}

interface HumanFace {
  readonly box: Detection;
  readonly embedding: Float32Array | null;
}

/** Per-frame state: every network runs at most once per frame, whatever the pipelines asked. */
export class FrameAnalysis {
  readonly timings: FrameTimings = { decode: 0, detect: 0, landmarks: 0, descriptor: 0 };
  private readonly models: Models;
  private readonly image: RgbImage;
  private readonly limits: DetectionLimits;
  private readonly tensor: Tensor3D;
  private readonly detections = new Map<string, Promise<Detection[]>>();
  private readonly landmarks = new Map<string, Promise<Point[]>>();
  private readonly descriptors = new Map<string, Promise<Float32Array>>();
  private readonly chips = new Map<string, Float32Array>();
  private humanFaces: Promise<HumanFace[]> | undefined;
  private readonly padded = new Map<number, { tensor: Tensor3D; dx: number; dy: number }>();

  constructor(models: Models, image: RgbImage, limits: DetectionLimits) {
    this.models = models;
    this.image = image;
    this.limits = limits;
    this.tensor = models.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  }

  dispose(): void {
    this.tensor.dispose();
    for (const p of this.padded.values()) p.tensor.dispose();
    this.padded.clear();
    for (const chip of this.chips.values()) chip.fill(0);
    this.chips.clear();
  }

  /**
   * `observe`: a liveness burst's frame (see DescribeRequest.observe). `near`: where the face was
   * in the previous frame of the burst (DescribeRequest.near): the detector looks there first.
   */
  async run(pipeline: PipelineConfig, options: { observe?: boolean; near?: Detection } = {}): Promise<VariantResult> {
    try {
      return await this.runOrThrow(pipeline, options.observe ?? false, options.near);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && (FRAME_REFUSALS as readonly string[]).includes(code)) return { ok: false, code: code as FaceErrorCode };
      throw error;
    }
  }

  private async runOrThrow(p: PipelineConfig, observe: boolean, near: Detection | undefined): Promise<VariantResult> {
    const { face, detector } = (near && p.detectors[0]?.net === 'tiny' ? await this.selectNear(p.detectors[0], near) : undefined) ?? await this.selectFace(p.detectors, observe);
    // Face size from the landmarks (detector-independent; detectors' boxes differ by 20-30%):
    // image pixels per unit of dlib's mean face, i.e. the face's width from jaw to jaw.
    const faceSize = p.descriptor === 'faceres1024' ? face.width : faceWidth(await this.faceLandmarks(face));
    if (faceSize < this.limits.minFaceSize) throw faceError('face_too_small');
    // The quality gate: not on a liveness burst's frames (turning the head is what they show;
    // its key frames, the most frontal, go through the gate when they are matched).
    const quality = observe || p.descriptor === 'faceres1024' ? undefined : await this.quality(face);
    const refusal = quality && qualityRefusal(quality, this.limits);
    if (refusal) throw faceError(refusal);
    if (p.descriptor === 'rec128') {
      const d = await this.rec128(face, p.align, !observe && (p.mirror ?? false));
      const descriptor = p.normalise ? l2(d) : d.slice();
      if (!observe) return { ok: true, descriptor, face, detector, faceSize, quality };
      const points = await this.faceLandmarks(face);
      return { ok: true, descriptor, face, detector, faceSize, landmarks: Float32Array.from(points.flat()), appearance: appearanceOf(this.image, points), frame: { width: this.image.width, height: this.image.height } };
    }
    if (isCandidate(p.descriptor)) {
      const d = await this.candidate(face, p.descriptor, !observe && (p.mirror ?? false));
      return { ok: true, descriptor: p.normalise ? l2(d) : d.slice(), face, detector, faceSize, quality };
    }
    const partner = p.descriptor === 'fusion' ? p.fusionWith ?? 'faceres1024' : 'faceres1024';
    const other = partner === 'faceres1024' ? await this.faceres(face) : await this.candidate(face, partner, p.mirror ?? false);
    if (p.descriptor === 'faceres1024') return { ok: true, descriptor: p.normalise ? l2(other) : other.slice(), face, detector, faceSize };
    // Fusion: each part L2-normalised, then weighted so that the squared distance is
    // w * d128^2 + (1 - w) * d_other^2 (both parts on the unit sphere).
    const w = p.fusionWeight ?? 0.5;
    const a = l2(await this.rec128(face, p.align, p.mirror ?? false));
    const b = l2(other);
    const out = new Float32Array(a.length + b.length);
    for (let i = 0; i < a.length; i += 1) out[i] = a[i]! * Math.sqrt(w);
    for (let i = 0; i < b.length; i += 1) out[a.length + i] = b[i]! * Math.sqrt(1 - w);
    return { ok: true, descriptor: p.normalise ? l2(out) : out, face, detector, faceSize, quality };
  }

  /** Pose and sharpness of a face (quality.ts), on its 150 px dlib chip whatever the descriptor's own. */
  private async quality(face: Detection): Promise<FaceQuality> {
    const points = await this.faceLandmarks(face);
    return { yaw: yawOf(points), sharpness: sharpnessOf(this.dlibChip(face, points), 150) };
  }

  /**
   * The 150 px dlib chip of a face, cut once per frame (the quality gate and the 128-d network
   * both read it); zeroed in dispose(), like every face image in the worker.
   */
  private dlibChip(face: Detection, points: readonly Point[]): Float32Array {
    const key = `${face.x},${face.y},${face.width},${face.height}`;
    let chip = this.chips.get(key);
    if (!chip) {
      chip = extractChip(this.image, chipTransform(points));
      this.chips.set(key, chip);
    }
    return chip;
  }

  /** Runs landmarks and the descriptor network on a given box (worker warm-up only). */
  async warmDescriptor(face: Detection, pipeline: PipelineConfig): Promise<void> {
    if (pipeline.descriptor === 'rec128' || pipeline.descriptor === 'fusion') await this.rec128(face, pipeline.align, pipeline.mirror ?? false);
    for (const name of candidatesOf(pipeline)) await this.candidate(face, name, pipeline.mirror ?? false);
  }

  /**
   * Exactly one usable face. Detections under `minScore` are not faces; among the others the
   * one-face rule (subject.ts) picks the subject, strictly in a liveness burst (`strict`).
   */
  private async selectFace(detectors: readonly DetectorSpec[], strict: boolean): Promise<{ face: Detection; detector: number }> {
    for (let k = 0; k < detectors.length; k += 1) {
      const faces = (await this.detect(detectors[k]!)).filter((d) => d.score >= this.limits.minScore);
      if (faces.length === 0) continue;
      return { face: selectSubject(faces, this.image, this.limits, strict), detector: k };
    }
    throw faceError('no_face');
  }

  /**
   * Tracking within a burst: the first detector run on a square window around where the face was
   * in the previous frame, at the scale it would see the whole frame (so the box, and the
   * landmarks found in it, are the same as a whole-frame detection gives), i.e. on a sixth to a
   * tenth of the pixels. The one-face rule applies inside the window; faces elsewhere are left to
   * the whole-frame detections (FaceEngine.observe runs one every few frames). Undefined when
   * the window shows no face: the caller then searches the whole frame.
   */
  private async selectNear(spec: DetectorSpec, near: Detection): Promise<{ face: Detection; detector: number } | undefined> {
    const { width, height } = this.image;
    const fullInput = tinyInputSize(spec.inputSize ?? 320, Math.max(width, height));
    const scale = fullInput / Math.max(width, height);
    // The window is cut on the detector's own grid (cells of 32 input pixels, from the frame's
    // top-left corner, where the whole-frame input starts) and at its scale, so that the
    // network sees the face's pixels as it would in the whole frame: same box, same landmarks.
    const cell = 32 / scale;
    const margin = 1.2 * Math.max(near.width, near.height);
    const cx = near.x + near.width / 2, cy = near.y + near.height / 2;
    const gx0 = Math.floor((cx - margin) / cell), gy0 = Math.floor((cy - margin) / cell);
    const cells = Math.max(Math.ceil((cx + margin) / cell) - gx0, Math.ceil((cy + margin) / cell) - gy0, 2);
    const inputSize = 32 * cells;
    if (inputSize >= fullInput) return undefined;
    const side = Math.round(cells * cell);
    const x0 = Math.round(gx0 * cell), y0 = Math.round(gy0 * cell);
    const faces = await this.timed('detect', async () => {
      // Outside the frame is black, as the detector pads a whole frame to a square.
      const { faceapi, tf } = this.models;
      const tensor = tf.tensor3d(canvasOf(this.image, x0, y0, side, side, 0), [side, side, 3], 'int32');
      try {
        const found = await faceapi.detectAllFaces(tensor as never, new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: this.limits.minScore }));
        return found.map((d) => clip({ x: d.box.x + x0, y: d.box.y + y0, width: d.box.width, height: d.box.height, score: d.score }, width, height)).filter((d) => d.width > 1 && d.height > 1);
      } finally {
        tensor.dispose();
      }
    });
    if (faces.length === 0) return undefined;
    // Only bursts are tracked: the strict rule.
    return { face: selectSubject(faces, this.image, this.limits, true), detector: 0 };
  }

  private detect(spec: DetectorSpec): Promise<Detection[]> {
    return once(this.detections, detectorKey(spec), () => this.timed('detect', () => this.runDetector(spec)));
  }

  private async runDetector(spec: DetectorSpec): Promise<Detection[]> {
    if (spec.net === 'blazeface') return (await this.human()).map((f) => f.box);
    const { faceapi } = this.models;
    const { tensor, dx, dy } = spec.pad ? this.paddedTensor(spec.pad) : { tensor: this.tensor, dx: 0, dy: 0 };
    // Candidates from 0.2 so that benchmarks can study scores; the policy threshold is applied in selectFace.
    const options = spec.net === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence: Math.min(0.2, this.limits.minScore), maxResults: 20 })
      : new faceapi.TinyFaceDetectorOptions({ inputSize: tinyInputSize(spec.inputSize ?? 320, Math.max(this.image.width, this.image.height) * (1 + 2 * (spec.pad ?? 0))), scoreThreshold: Math.min(0.2, this.limits.minScore) });
    const found = await faceapi.detectAllFaces(tensor as never, options);
    // Back to the unpadded frame, clipped to it.
    return found.map((d) => clip({ x: d.box.x - dx, y: d.box.y - dy, width: d.box.width, height: d.box.height, score: d.score }, this.image.width, this.image.height)).filter((d) => d.width > 1 && d.height > 1);
  }

  /** The frame centred on a mid-grey canvas (1 + 2 pad) times larger: SSD misses faces that fill the frame. */
  private paddedTensor(pad: number): { tensor: Tensor3D; dx: number; dy: number } {
    let entry = this.padded.get(pad);
    if (!entry) {
      const { width, height } = this.image;
      const dx = Math.round(width * pad), dy = Math.round(height * pad);
      const w = width + 2 * dx, h = height + 2 * dy;
      entry = { tensor: this.models.tf.tensor3d(canvasOf(this.image, -dx, -dy, w, h, 128), [h, w, 3], 'int32'), dx, dy };
      this.padded.set(pad, entry);
    }
    return entry;
  }

  private faceLandmarks(face: Detection): Promise<Point[]> {
    return once(this.landmarks, `${face.x},${face.y},${face.width},${face.height}`, () => this.timed('landmarks', async () => {
      const { faceapi } = this.models;
      const box = new faceapi.Rect(face.x, face.y, face.width, face.height);
      const [crop] = await faceapi.extractFaceTensors(this.tensor as never, [box]);
      if (!crop) throw faceError('no_face', 'empty face crop');
      try {
        const rel = (await faceapi.nets.faceLandmark68Net.detectLandmarks(crop as never)) as InstanceType<FaceApiLandmarks>;
        // extractFaceTensors clips the box to the image: landmarks are relative to the clipped crop.
        const cx = Math.max(0, Math.floor(face.x)), cy = Math.max(0, Math.floor(face.y));
        const [ch, cw] = (crop as unknown as { shape: number[] }).shape as [number, number];
        return rel.relativePositions.map((pt: { x: number; y: number }): Point => [cx + pt.x * cw, cy + pt.y * ch]);
      } finally {
        (crop as unknown as { dispose(): void }).dispose();
      }
    }));
  }

  private rec128(face: Detection, align: 'dlib' | 'box', mirror = false): Promise<Float32Array> {
    const key = `${face.x},${face.y},${face.width},${face.height},${align},${mirror}`;
    return once(this.descriptors, key, async () => {
      const points = await this.faceLandmarks(face);
      return this.timed('descriptor', async () => {
        const { faceapi, tf } = this.models;
        let input: Tensor3D;
        if (align === 'dlib') {
          input = tf.tensor3d(this.dlibChip(face, points), [150, 150, 3], 'float32');
        } else {
          // face-api's own crop (what withFaceDescriptors() does): an axis-aligned box from the
          // eye and mouth centres. FaceLandmarks68 takes positions relative to the image size.
          const { width, height } = this.image;
          const lm = new faceapi.FaceLandmarks68(points.map(([x, y]) => new faceapi.Point(x / width, y / height)), { width, height });
          const [crop] = await faceapi.extractFaceTensors(this.tensor as never, [lm.align(null, { useDlibAlignment: true })]);
          if (!crop) throw faceError('no_face', 'empty face crop');
          input = crop as unknown as Tensor3D;
        }
        try {
          const d = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input as never)) as Float32Array;
          if (!mirror) return d;
          const flipped = tf.reverse(input, 1);
          try {
            const m = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(flipped as never)) as Float32Array;
            return d.map((x, i) => (x + m[i]!) / 2);
          } finally {
            flipped.dispose();
          }
        } finally {
          input.dispose();
        }
      });
    });
  }

  /**
   * A candidate network (candidates.ts) on its own chip: cut from our 68 landmarks with the
   * geometry it was trained on, encoded as its training code did, mirrored and averaged like the
   * 128-d when asked. Raw output (the caller normalises).
   */
  private candidate(face: Detection, name: CandidateName, mirror: boolean): Promise<Float32Array> {
    const key = `${face.x},${face.y},${face.width},${face.height},${name},${mirror}`;
    return once(this.descriptors, key, async () => {
      const points = await this.faceLandmarks(face);
      return this.timed('descriptor', async () => {
        const spec = CANDIDATES[name];
        const model = this.models.graphs.get(name);
        if (!model) throw new Error(`descriptor candidate ${name} not loaded`);
        const size = spec.input;
        const transform = spec.align.kind === 'arcface' ? arcfaceTransform(points, size) : chipTransform(points, size, spec.align.padding);
        const chip = extractChip(this.image, transform, size);
        const run = async (flip: boolean): Promise<Float32Array> => {
          const input = this.models.tf.tensor4d(encodePixels(chip, size, spec.pixels, flip), [1, size, size, 3], 'float32');
          try {
            const out = model.execute(input, spec.output);
            try {
              return Float32Array.from(await out.data());
            } finally {
              out.dispose();
            }
          } finally {
            input.dispose();
          }
        };
        const d = await run(false);
        if (!mirror) return d;
        const m = await run(true);
        return d.map((x, i) => (x + m[i]!) / 2);
      });
    });
  }

  /** human's own pipeline (blazeface -> facemesh, rotation-corrected -> faceres) on the whole frame. */
  private human(): Promise<HumanFace[]> {
    this.humanFaces ??= this.timed('detect', async () => {
      const human = this.models.human;
      if (!human) throw new Error('human models not loaded');
      const result = await human.detect(this.tensor);
      return result.face.map((f) => ({
        box: { x: f.box[0], y: f.box[1], width: f.box[2], height: f.box[3], score: f.score },
        embedding: f.embedding && f.embedding.length > 0 ? Float32Array.from(f.embedding) : null,
      }));
    });
    return this.humanFaces;
  }

  /** faceres descriptor of human's face that overlaps `face` most (IoU > 0.1: boxes differ), else no_face. */
  private async faceres(face: Detection): Promise<Float32Array> {
    const faces = await this.human();
    let best: HumanFace | undefined;
    let bestIou = 0.1;
    for (const f of faces) {
      const v = iou(f.box, face);
      if (f.embedding && v > bestIou) {
        best = f;
        bestIou = v;
      }
    }
    if (!best?.embedding) throw faceError('no_face');
    return best.embedding;
  }

  private async timed<T>(phase: keyof FrameTimings, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.timings[phase] += performance.now() - start;
    }
  }
}

type FaceApiLandmarks = new (...args: never[]) => { relativePositions: { x: number; y: number }[] };

function tinyInputSize(min: number, longerSide: number): number {
  return Math.max(min, Math.min(608, 32 * Math.round(longerSide / 2 / 32)));
}

/** Jaw-to-jaw width in pixels: the scale of dlib's mean face (unit width) fitted to the landmarks. */
export function faceWidth(landmarks: readonly Point[]): number {
  const t = chipTransform(landmarks, 1, 0);
  return Math.hypot(t.ar, t.ai);
}

/** The promise `map` holds for `key`, made by `make` the first time: every network runs at most once per frame. */
function once<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let result = map.get(key);
  if (!result) {
    result = make();
    map.set(key, result);
  }
  return result;
}

/**
 * A w x h RGB canvas filled with `fill`, showing the image with the canvas's top-left corner at
 * (x0, y0) in image pixels (negative: the image sits inside a margin).
 */
function canvasOf(image: RgbImage, x0: number, y0: number, w: number, h: number, fill: number): Uint8Array {
  const { width, height, data } = image;
  const buf = new Uint8Array(w * h * 3).fill(fill);
  const ix0 = Math.max(0, x0), ix1 = Math.min(width, x0 + w);
  if (ix1 <= ix0) return buf;
  for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y += 1) {
    buf.set(data.subarray((y * width + ix0) * 3, (y * width + ix1) * 3), ((y - y0) * w + (ix0 - x0)) * 3);
  }
  return buf;
}

function clip(d: Detection, width: number, height: number): Detection {
  const x0 = Math.max(0, d.x), y0 = Math.max(0, d.y);
  const x1 = Math.min(width, d.x + d.width), y1 = Math.min(height, d.y + d.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0), score: d.score };
}

function l2(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i += 1) out[i] = v[i]! * inv;
  return out;
}

function iou(a: Detection, b: Detection): number {
  const x0 = Math.max(a.x, b.x), y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width), y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}
