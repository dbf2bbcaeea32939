export { createAdminRouter } from './router.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    admin_unauthorized: true;
  }
}
