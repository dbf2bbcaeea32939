import { randomBytes, randomUUID } from 'node:crypto';
import type { ClientQueries } from '../db/index.ts';
import type { Sealer } from '../sealing/index.ts';
import { AppError } from '../shared/index.ts';
import { clientSecretContext } from './adapter.ts';

/**
 * Relying-party registrations. Secrets are generated here (256 bits), shown once to the operator
 * and stored sealed: oidc-provider needs the plaintext secret to verify client_secret_basic and
 * client_secret_jwt, so a one-way hash is not an option; sealing keeps it out of a stolen database.
 */
interface NewClient {
  clientId?: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** `none` makes a public client (PKCE only, no secret), e.g. a native or single-page app. */
  authMethod?: 'client_secret_basic' | 'client_secret_post' | 'none';
  firstParty?: boolean;
  secret?: string;
  /** Default: the authorization code flow. `none` (OAuth 2.0 Multiple Response Types, 4) only establishes a session. */
  responseTypes?: Array<'code' | 'none'>;
}

export function createClientRegistry(deps: { clients: ClientQueries; sealer: Sealer }) {
  return {
    async add(input: NewClient): Promise<{ clientId: string; clientSecret: string | undefined }> {
      if (input.redirectUris.length === 0) throw new AppError('client_invalid', 'A client needs at least one redirect URI.', { status: 400 });
      for (const uri of [...input.redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
        let url: URL;
        try {
          url = new URL(uri);
        } catch {
          throw new AppError('client_invalid', `Not a URL: ${uri}`, { status: 400 });
        }
        if (url.hash) throw new AppError('client_invalid', `Redirect URIs must not contain a fragment (RFC 6749, 3.1.2): ${uri}`, { status: 400 });
      }
      const clientId = input.clientId ?? randomUUID();
      const authMethod = input.authMethod ?? 'client_secret_basic';
      const clientSecret = authMethod === 'none' ? undefined : (input.secret ?? randomBytes(32).toString('base64url'));
      await deps.clients.upsert({
        client_id: clientId,
        metadata: {
          client_name: input.name,
          redirect_uris: input.redirectUris,
          post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
          token_endpoint_auth_method: authMethod,
          grant_types: (input.responseTypes ?? ['code']).includes('code') ? ['authorization_code', 'refresh_token'] : [],
          response_types: input.responseTypes ?? ['code'],
        },
        secret_sealed: clientSecret ? deps.sealer.seal(Buffer.from(clientSecret, 'utf8'), clientSecretContext(clientId)) : null,
        first_party: input.firstParty ?? false,
      });
      return { clientId, clientSecret };
    },
    async list() {
      return (await deps.clients.list()).map((row) => ({
        clientId: row.client_id,
        name: String(row.metadata.client_name ?? ''),
        redirectUris: row.metadata.redirect_uris as string[],
        authMethod: String(row.metadata.token_endpoint_auth_method),
        firstParty: row.first_party,
        createdAt: row.created_at,
      }));
    },
    remove: (clientId: string) => deps.clients.delete(clientId),
  };
}

/** The IdP's own account page: a first-party client that signs in with response_type=none. */
export const ACCOUNT_CLIENT_ID = 'account-console';

/**
 * The clients the IdP registers itself at start: its account page, and in demo mode the sample
 * relying party of `npm start`. Upserts, so a restart or a second process changes nothing.
 */
export async function seedClients(registry: ClientRegistry, options: { issuer: string; sampleRp: { url: string; clientSecret: string } | undefined }): Promise<void> {
  if (options.sampleRp) {
    await registry.add({
      clientId: 'sample-rp',
      name: 'Sample relying party',
      redirectUris: [new URL('/callback', options.sampleRp.url).href],
      postLogoutRedirectUris: [new URL('/', options.sampleRp.url).href],
      secret: options.sampleRp.clientSecret,
      firstParty: false,
    });
  }
  await registry.add({
    clientId: ACCOUNT_CLIENT_ID,
    name: 'your FaceID-FHE account',
    redirectUris: [new URL('/account/callback', options.issuer).href],
    authMethod: 'none',
    responseTypes: ['none'],
    firstParty: true,
  });
}

export type ClientRegistry = ReturnType<typeof createClientRegistry>;
