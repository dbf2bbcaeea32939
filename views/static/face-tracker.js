// The camera page's face tracker, in a Web Worker (feedback and prompts only: the server decides).
//
// Why a worker: face-api's networks run on TensorFlow.js, and where the browser has no WebGL
// (headless, GPU blocked, some laptops) they run on the CPU backend, whose kernels are synchronous
// JavaScript. On the page's own thread each look blocked it for a few hundred milliseconds, the
// capture loop could not keep its rhythm, and the burst's frames came 300-420 ms apart instead of
// 200 ms: far enough for a genuine head to fail the server's continuity checks (measured in
// bench/liveness.ts). Here the looks run beside the page; capture never waits for them.
//
// Protocol (postMessage): the page sends { type: 'load' }, then { type: 'look', id, frame } with an
// ImageBitmap (transferred); the worker answers { type: 'ready' } or { type: 'failed' }, and
// { type: 'seen', id, face, yaw, width } for each look (face: false when none is found).
/* global importScripts, OffscreenCanvas, OffscreenCanvasRenderingContext2D */
importScripts('/static/vendor/face-api.js');

const api = self.faceapi;

// TensorFlow.js's WASM backend (SIMD where the browser has it), which face-api's bundle includes;
// its binaries come from /static/vendor/. Several times faster than the CPU backend here, so the
// prompts follow the head closely. Compiling WebAssembly needs 'wasm-unsafe-eval' in this worker's
// CSP (its own response header; the pages keep theirs). If the backend cannot start, the CPU
// backend does the work, slower.
async function chooseBackend() {
  try {
    api.tf.setWasmPaths('/static/vendor/');
    if (await api.tf.setBackend('wasm')) return;
  } catch {
    // fall through to the CPU backend
  }
  await api.tf.setBackend('cpu');
}

// face-api picks its environment by looking for window and document, which a worker does not
// have: give it the worker's own canvas and fetch. Only fetch (weights) and the canvas are used,
// since frames reach the networks as tensors.
const unavailable = () => { throw new Error('not available in the tracker worker'); };
api.env.setEnv({
  Canvas: OffscreenCanvas,
  CanvasRenderingContext2D: OffscreenCanvasRenderingContext2D,
  Image: class NoImage {},
  ImageData,
  Video: class NoVideo {},
  createCanvasElement: () => new OffscreenCanvas(1, 1),
  createImageElement: unavailable,
  createVideoElement: unavailable,
  fetch: (...args) => fetch(...args),
  readFile: unavailable,
});

const canvas = new OffscreenCanvas(1, 1);
const context = canvas.getContext('2d', { willReadFrequently: true });

// Yaw proxy as the server computes it (src/liveness/geometry.ts): the nose tip's offset from the
// middle of the jaw line, in jaw widths, along the jaw; positive when the user turns to their left.
async function look(frame) {
  canvas.width = frame.width;
  canvas.height = frame.height;
  context.drawImage(frame, 0, 0);
  frame.close();
  const input = api.tf.browser.fromPixels(context.getImageData(0, 0, canvas.width, canvas.height));
  try {
    const found = await api.detectSingleFace(input, new api.TinyFaceDetectorOptions({ inputSize: 224, scoreThreshold: 0.4 })).withFaceLandmarks();
    if (!found) return { face: false };
    const p = found.landmarks.positions;
    const jx = p[16].x - p[0].x, jy = p[16].y - p[0].y;
    const width = Math.hypot(jx, jy);
    const mx = (p[0].x + p[16].x) / 2, my = (p[0].y + p[16].y) / 2;
    const yaw = ((p[30].x - mx) * jx + (p[30].y - my) * jy) / (width * width);
    return { face: true, yaw, width };
  } finally {
    input.dispose();
  }
}

self.onmessage = async (event) => {
  const message = event.data || {};
  if (message.type === 'load') {
    try {
      await chooseBackend();
      await api.nets.tinyFaceDetector.loadFromUri('/static/models');
      await api.nets.faceLandmark68Net.loadFromUri('/static/models');
      // The first inference compiles the kernels (seconds on some machines): before the prompts.
      if (message.frame) await look(message.frame);
      self.postMessage({ type: 'ready', backend: api.tf.getBackend() });
    } catch (error) {
      self.postMessage({ type: 'failed', reason: String(error && error.message) });
    }
  } else if (message.type === 'look') {
    try {
      self.postMessage({ type: 'seen', id: message.id, ...(await look(message.frame)) });
    } catch {
      self.postMessage({ type: 'seen', id: message.id, face: false, failed: true });
    }
  }
};
