export { createAdapterClass } from './adapter.ts';
export { createProvider } from './provider.ts';
export { createFrontchannelLogout } from './frontchannel.ts';
export { ACCOUNT_CLIENT_ID, ID_TOKEN_SIGNING_ALGS, createClientRegistry, seedClients, type ClientRegistry } from './clients.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    client_invalid: true;
  }
}
