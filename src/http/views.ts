import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Views {
  render(template: string, context?: Record<string, unknown>): string;
}

/** Nunjucks with autoescaping on: every interpolated value is HTML-escaped unless marked safe. */
export function createViews(options: { dir?: string; siteName?: string } = {}): Views {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(options.dir ?? VIEWS_DIR, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addGlobal('siteName', options.siteName ?? 'FaceID-FHE');
  return {
    render: (template, context = {}) => env.render(template, context),
  };
}
