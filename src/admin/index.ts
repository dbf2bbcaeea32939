export { createAdminRouter } from './router.ts';
