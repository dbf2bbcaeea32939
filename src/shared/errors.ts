/**
 * AppError: every error the application raises on purpose. `code` is stable (clients and tests
 * match on it), `status` is the HTTP status it maps to, and `expose` says whether `message` may be
 * shown to the caller. Anything that is not an AppError is unexpected and is masked as a 500.
 */
/**
 * The stable error codes, declared by the modules that raise them: each adds its own to this
 * interface (TypeScript declaration merging, `declare module '../shared/errors.ts'`), so a code
 * is a checked union, a typo does not compile, and `git grep` finds where a code is declared.
 */
export interface ErrorCodes {
  /** The masked 500 of the error handler. */
  internal_error: true;
  bad_request: true;
}

export type ErrorCode = Extract<keyof ErrorCodes, string>;

export interface AppErrorOptions {
  status?: number;
  expose?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
