export { createAdapterClass } from './adapter.ts';
export { createProvider } from './provider.ts';
export { createClientRegistry } from './clients.ts';
