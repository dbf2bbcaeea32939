import type { Context } from 'koa';

/** JSON for clients that ask for it (kiosks, native apps, tests); HTML pages for browsers. */
export function wantsJson(ctx: Context): boolean {
  const accept = ctx.get('accept');
  return accept.includes('application/json') && !accept.includes('text/html');
}
