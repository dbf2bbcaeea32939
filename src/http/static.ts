import { readFileSync, readdirSync } from 'node:fs';
import { join, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Next } from 'koa';
import { WORKER_WASM_CSP } from './security.ts';
import { VIEWS_DIR } from './views.ts';

const TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.bin': 'application/octet-stream', '.wasm': 'application/wasm' };

/**
 * Browser code we take from packages rather than write: served under /static/vendor/ from the
 * installed package (version pinned by package-lock.json), as a same-origin script (our CSP).
 */
const VENDOR: Record<string, string> = {
  'simplewebauthn-browser.js': fileURLToPath(new URL('../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js', import.meta.url)),
  // The camera page's face tracker (prompts and feedback only: the server decides), loaded by its
  // Web Worker (views/static/face-tracker.js), with the two models it needs (tiny detector 190 kB;
  // the 68 landmarks the server uses, 350 kB, so that page and server read the same head pose),
  // from the same package the server uses.
  'face-api.js': fileURLToPath(new URL('../../node_modules/@vladmandic/face-api/dist/face-api.js', import.meta.url)),
  // The binaries of the TensorFlow.js WASM backend that face-api.js bundles (same version, 4.22),
  // with and without SIMD (the threaded one needs cross-origin isolation: not served).
  'tfjs-backend-wasm-simd.wasm': fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', import.meta.url)),
  'tfjs-backend-wasm.wasm': fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', import.meta.url)),
};
const MODELS_DIR = fileURLToPath(new URL('../../node_modules/@vladmandic/face-api/model/', import.meta.url));
const MODELS = ['tiny_face_detector_model', 'face_landmark_68_model'].flatMap((m) => [`${m}-weights_manifest.json`, `${m}.bin`]);
// The tracker worker runs under its own CSP (see WORKER_WASM_CSP).
const OWN_CSP: Record<string, string> = { '/static/face-tracker.js': WORKER_WASM_CSP };

/** Serves the few files in views/static (and VENDOR) from memory: a fixed list, so no path ever reaches the disk. */
export function staticFiles() {
  const dir = join(VIEWS_DIR, 'static');
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`/static/${name}`, { type, body: readFileSync(join(dir, name)) });
  }
  for (const [name, path] of Object.entries(VENDOR)) files.set(`/static/vendor/${name}`, { type: TYPES[extname(name)]!, body: readFileSync(path) });
  for (const name of MODELS) files.set(`/static/models/${name}`, { type: TYPES[extname(name)]!, body: readFileSync(join(MODELS_DIR, name)) });
  return async function serveStatic(ctx: Context, next: Next): Promise<void> {
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (reading && ctx.path === '/favicon.ico') {
      // Pages name /static/favicon.svg; browsers and tools that ask the old way are sent there.
      ctx.status = 301;
      ctx.redirect('/static/favicon.svg');
      return;
    }
    const file = reading ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=300');
    const csp = OWN_CSP[ctx.path];
    if (csp) ctx.set('Content-Security-Policy', csp);
    ctx.body = file.body;
  };
}
