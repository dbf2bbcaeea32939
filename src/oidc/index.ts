export { createAdapterClass } from './adapter.ts';
export { createProvider } from './provider.ts';
export { ACCOUNT_CLIENT_ID, createClientRegistry, seedClients, type ClientRegistry } from './clients.ts';
export { ACR_FACE, ACR_FACE_OTP, ACR_VALUES, AMR_FACE, AMR_FACE_OTP, assertedAcr, requiredAcr, satisfies, type Acr, type AcrParams } from './acr.ts';
