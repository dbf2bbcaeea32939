export { createAdapterClass } from './adapter.ts';
export { createProvider } from './provider.ts';
export { ACCOUNT_CLIENT_ID, createClientRegistry, seedClients, type ClientRegistry } from './clients.ts';
