import type { Context, Next } from 'koa';
import { isDatabaseUnavailable } from '../db/index.ts';
import { AppError, isAppError, type Logger } from '../shared/index.ts';
import { wantsJson } from './negotiate.ts';
import type { Views } from './views.ts';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  code?: string;
}

const TITLES: Record<number, string> = {
  400: 'That request was not understood',
  401: 'Not accepted',
  403: 'Not allowed',
  404: 'Page not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported format',
  422: 'We could not use that',
  429: 'Too many attempts',
  503: 'Temporarily unavailable',
};

/** Titles that say what happened, for the codes a user meets most (else the status's title). */
const CODE_TITLES: Record<string, string> = {
  face_not_matched: 'Face not matched',
  no_face: 'No face found',
  multiple_faces: 'More than one face',
  face_too_small: 'Face too far away',
  face_turned: 'Face turned away',
  face_blurred: 'Picture blurred',
  frames_disagree: 'The pictures did not agree',
  bad_image: 'Picture not usable',
  totp_invalid: 'Wrong code',
  passkey_invalid: 'Passkey not accepted',
  too_many_attempts: 'Too many attempts',
  rate_limited: 'Too many requests',
  username_taken: 'Username taken',
  account_locked: 'Account locked',
  csrf_invalid: 'Page expired',
  interaction_expired: 'Sign-in expired',
  custodian_unavailable: 'Face sign-in unavailable',
  database_unavailable: 'Temporarily unavailable',
};

/** The error page (views/error.njk); the title follows the code, else the status, unless one is given. */
export function renderErrorPage(views: Views, page: { status: number; code: string; message: string; retryUrl?: string; title?: string }): string {
  return views.render('error.njk', {
    title: page.title ?? CODE_TITLES[page.code] ?? TITLES[page.status] ?? 'Error',
    message: page.message,
    code: page.code,
    status: page.status,
    retryUrl: page.retryUrl,
  });
}

/**
 * Turns every error into a readable page (or JSON) with a stable `code`. Only AppErrors and
 * client errors marked `expose` show their message; anything else is a masked 500 and is the
 * only kind that is logged as an error (koa's own habit: expected errors are not noise).
 */
export function errorHandler(deps: { logger: Logger; views: Views }) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (thrown) {
      const caught = isDatabaseUnavailable(thrown)
        ? new AppError('database_unavailable', 'Our database is unavailable. Please try again in a moment.', { status: 503, expose: true, cause: thrown })
        : thrown;
      const err = caught as HttpLikeError;
      const app = isAppError(caught) ? caught : undefined;
      let status = app?.status ?? err.status ?? err.statusCode ?? 500;
      if (status < 400 || status > 599) status = 500;
      const expose = app ? app.expose : Boolean(err.expose) && status < 500;
      const code = app?.code ?? (status >= 500 ? 'internal_error' : (typeof err.code === 'string' ? err.code : 'bad_request'));
      const message = expose && err.message ? err.message : status === 503
        ? 'A service we depend on is unavailable. Please try again in a moment.'
        : 'Something went wrong on our side. Please try again later.';

      if (status >= 500 && !app) {
        deps.logger.error({ err: caught, path: ctx.path, method: ctx.method }, 'unexpected error');
      } else if (status >= 500) {
        deps.logger.warn({ errorCode: code, path: ctx.path }, 'service unavailable');
      }

      ctx.status = status;
      ctx.set('Cache-Control', 'no-store');
      if (status === 503) ctx.set('Retry-After', '5');
      const retryUrl = typeof ctx.state.retryUrl === 'string' ? ctx.state.retryUrl : undefined;
      if (wantsJson(ctx)) {
        ctx.body = { error: code, message, ...(retryUrl ? { retry: retryUrl } : {}) };
      } else {
        ctx.type = 'html';
        ctx.body = renderErrorPage(deps.views, { status, code, message, retryUrl });
      }
    }
  };
}
