import { isAppError } from '../src/shared/index.ts';

/** What errorCode gives when nothing was thrown. */
export const NO_ERROR = 'no error';

/**
 * The code of the AppError that a call throws (or a promise rejects with); NO_ERROR when it
 * succeeds. Any other error is rethrown.
 */
export function errorCode(x: Promise<unknown>): Promise<string>;
export function errorCode(x: () => unknown): string;
export function errorCode(x: Promise<unknown> | (() => unknown)): Promise<string> | string {
  if (typeof x === 'function') {
    try {
      x();
    } catch (error) {
      return codeOrRethrow(error);
    }
    return NO_ERROR;
  }
  return x.then(() => NO_ERROR, codeOrRethrow);
}

function codeOrRethrow(error: unknown): string {
  if (!isAppError(error)) throw error;
  return error.code;
}
