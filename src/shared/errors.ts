/**
 * AppError: every error the application raises on purpose. `code` is stable (clients and tests
 * match on it), `status` is the HTTP status it maps to, and `expose` says whether `message` may be
 * shown to the caller. Anything that is not an AppError is unexpected and is masked as a 500.
 */
export interface AppErrorOptions {
  status?: number;
  expose?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
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
