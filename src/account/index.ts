export { createAccountRouter, ACCOUNT_CLIENT_ID, type AccountRouterDeps } from './router.ts';
