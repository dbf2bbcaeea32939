export { createAdapterClass, clientSecretContext, type AdapterDeps } from './adapter.ts';
export { createProvider, SCOPES, type ProviderDeps } from './provider.ts';
export { ACR_FACE, ACR_FACE_OTP, ACR_VALUES, AMR_FACE, AMR_FACE_OTP, assertedAcr, requiredAcr, satisfies, type Acr, type AcrParams } from './acr.ts';
export { createClientRegistry, type ClientRegistry, type NewClient } from './clients.ts';
