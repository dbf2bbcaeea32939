export { createAdminRouter, type AdminRouterDeps } from './router.ts';
