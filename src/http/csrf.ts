import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../shared/index.ts';
import { parseForm, parseJson, parseMultipart, type FormLimits, type MultipartBody, type MultipartLimits } from './body.ts';

/**
 * Double-submit CSRF protection (OWASP CSRF cheat sheet, "signed double-submit cookie"): a random
 * value in an httpOnly, SameSite=Strict cookie, and in each form its HMAC under a server key.
 * A cross-site page can neither read the cookie nor compute the HMAC.
 */
const COOKIE = 'fid.csrf';

export interface Csrf {
  /** Returns the token to embed in forms (and sets the cookie if needed). */
  token(ctx: Context): string;
  /** Throws 403 `csrf_invalid` unless `submitted` matches this browser's cookie. */
  verify(ctx: Context, submitted: string | undefined): void;
}

export function createCsrf(options: { key: string; secureCookies: boolean }): Csrf {
  const mac = (value: string) => createHmac('sha256', options.key).update(`csrf:${value}`).digest('base64url');
  return {
    token(ctx) {
      let value = ctx.cookies.get(COOKIE);
      if (!value || !/^[\w-]{32,64}$/.test(value)) {
        value = randomBytes(32).toString('base64url');
        ctx.cookies.set(COOKIE, value, { httpOnly: true, sameSite: 'strict', secure: options.secureCookies, path: '/', overwrite: true });
      }
      return mac(value);
    },
    verify(ctx, submitted) {
      const value = ctx.cookies.get(COOKIE);
      const expected = value ? Buffer.from(mac(value)) : undefined;
      const given = Buffer.from(submitted ?? '');
      if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new AppError('csrf_invalid', 'This form has expired or was not sent from our page. Please go back and try again.', { status: 403 });
      }
    },
  };
}

/**
 * Every form POST: the body is parsed (with its caps) and then its `csrf` field checked, before
 * the handler looks at anything else. A body of the wrong type is a 415 before it is a 403.
 */
export async function parseCheckedForm(ctx: Context, csrf: Csrf, limits?: FormLimits): Promise<Record<string, string>> {
  const fields = await parseForm(ctx, limits);
  csrf.verify(ctx, fields.csrf);
  return fields;
}

/**
 * The same for the camera forms (multipart/form-data). The token must be the first part (our
 * pages put it first) and is checked as soon as it arrives: a forged upload is refused before any
 * frame is buffered.
 */
export async function parseCheckedMultipart(ctx: Context, csrf: Csrf, limits: MultipartLimits): Promise<MultipartBody> {
  return parseMultipart(ctx, limits, { name: 'csrf', check: (value) => csrf.verify(ctx, value) });
}

/** The same for JSON requests of our own pages' scripts (the token in a `csrf` member). */
export async function parseCheckedJson(ctx: Context, csrf: Csrf): Promise<Record<string, unknown>> {
  const body = await parseJson(ctx);
  csrf.verify(ctx, typeof body.csrf === 'string' ? body.csrf : undefined);
  return body;
}
