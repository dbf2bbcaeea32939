export { createAccountRouter } from './router.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    confirmation_mismatch: true;
    consent_unknown: true;
    login_cancelled: true;
    login_required: true;
    reauthentication_required: true;
    state_mismatch: true;
  }
}
