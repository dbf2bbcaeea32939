import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';
import nunjucks from 'nunjucks';
import { wantsJson } from './negotiate.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Views {
  render(template: string, context?: Record<string, unknown>): string;
}

/** Nunjucks with autoescaping on: every interpolated value is HTML-escaped unless marked safe. */
export function createViews(): Views {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addGlobal('siteName', 'FaceID-FHE');
  return {
    render: (template, context = {}) => env.render(template, context),
  };
}

/**
 * A page for browsers, or `json` for clients that ask for JSON (wantsJson). Without `json` the
 * page is HTML for everyone: a page that only makes sense in a browser (a camera page) has no
 * JSON form.
 */
export function respond(ctx: Context, views: Views, template: string, context: Record<string, unknown>, json?: Record<string, unknown>): void {
  if (json && wantsJson(ctx)) {
    ctx.body = json;
    return;
  }
  ctx.type = 'html';
  ctx.body = views.render(template, context);
}
