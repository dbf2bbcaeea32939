export { createAdminRouter } from './router.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    admin_unauthorized: true;
    admin_invalid: true;
    admin_not_found: true;
    admin_conflict: true;
    admin_confirm_mismatch: true;
  }
}
