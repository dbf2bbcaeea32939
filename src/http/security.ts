import type { Context, Next } from 'koa';

/**
 * Security headers on every response. The CSP forbids inline script (all page code lives in
 * /static/*.js); `form-action` is left out on purpose because browsers apply it to the redirect
 * chain after a form post, which ends at the relying party's redirect_uri (CSP Level 3, 6.4.1).
 * The camera is allowed to our own origin only (Permissions Policy).
 */
const policy = (scriptSrc: string) => [
  "default-src 'self'",
  `script-src ${scriptSrc}`,
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
const CSP = policy("'self'");
/**
 * For the camera page's tracker worker alone: it may also compile WebAssembly (TensorFlow.js's WASM
 * backend; CSP Level 3 'wasm-unsafe-eval', which allows no JavaScript eval). A dedicated worker
 * runs under the policy of its own script's response, so the pages keep the policy above.
 */
export const WORKER_WASM_CSP = policy("'self' 'wasm-unsafe-eval'");

export function securityHeaders(options: { hsts: boolean }) {
  return async function setSecurityHeaders(ctx: Context, next: Next): Promise<void> {
    // Set before the handlers run: oidc-provider adds the hash of its own inline scripts
    // (form_post, the logout-and-continue page) to an existing CSP; set afterwards, ours would
    // replace theirs and block them.
    ctx.set('Content-Security-Policy', CSP);
    try {
      await next();
    } finally {
      const set = (name: string, value: string) => {
        if (!ctx.response.get(name)) ctx.set(name, value);
      };
      set('Content-Security-Policy', CSP);
      set('Permissions-Policy', 'camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()');
      set('X-Content-Type-Options', 'nosniff');
      set('X-Frame-Options', 'DENY');
      set('Referrer-Policy', 'no-referrer');
      set('Cross-Origin-Opener-Policy', 'same-origin');
      set('Cross-Origin-Resource-Policy', 'same-origin');
      if (options.hsts) set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    }
  };
}

/** Pages that show or collect personal data must never be stored by caches (RFC 9111, 5.2.2.5). */
export async function noStore(ctx: Context, next: Next): Promise<void> {
  await next();
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
}
