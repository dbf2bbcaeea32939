export { createAccountRouter, ACCOUNT_CLIENT_ID } from './router.ts';
