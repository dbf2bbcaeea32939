export { createAccountRouter } from './router.ts';
