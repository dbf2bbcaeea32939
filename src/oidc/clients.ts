import { randomBytes, randomUUID } from 'node:crypto';
import type { ClientQueries, Db } from '../db/index.ts';
import type { Sealer } from '../sealing/index.ts';
import { AppError } from '../shared/index.ts';
import { clientSecretContext } from './adapter.ts';

/**
 * Relying-party registrations. Secrets are generated here (256 bits), shown once to the operator
 * and stored sealed: oidc-provider needs the plaintext secret to verify client_secret_basic and
 * client_secret_jwt, so a one-way hash is not an option; sealing keeps it out of a stolen database.
 */
/** The ID-token signing algorithms a client may choose; src/keys keeps an active key for each. */
export const ID_TOKEN_SIGNING_ALGS = ['RS256', 'ES256'] as const;

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
  /** `id_token_signed_response_alg` (OIDC Registration 1.0, 2): RS256 (default) or ES256. */
  idTokenSignedResponseAlg?: string;
  /**
   * `pairwise` (OIDC Core 1.0, 8.1): the client sees a `sub` of its own sector, which no other
   * sector can link to the account. The sector is the redirect URIs' host, or the host of
   * `sectorIdentifierUri` (an https URL listing all the client's redirect URIs, fetched by the IdP).
   */
  subjectType?: 'public' | 'pairwise';
  sectorIdentifierUri?: string;
  /** `require_pushed_authorization_requests` (RFC 9126, 6): only PAR request_uris are accepted. */
  requirePushedAuthorizationRequests?: boolean;
  /**
   * Back-Channel Logout 1.0, 2.2: the IdP POSTs a logout token here when the user's session ends.
   * With `backchannelLogoutSessionRequired` (default true) the token and the ID tokens carry `sid`.
   */
  backchannelLogoutUri?: string;
  backchannelLogoutSessionRequired?: boolean;
  /**
   * Front-Channel Logout 1.0, 2: the IdP's sign-out page loads this in an iframe; same scheme, host
   * and port as a redirect URI. With `frontchannelLogoutSessionRequired` (default true) it gets
   * `iss` and `sid`, and the ID tokens carry `sid`.
   */
  frontchannelLogoutUri?: string;
  frontchannelLogoutSessionRequired?: boolean;
}

const invalid = (message: string) => new AppError('client_invalid', message, { status: 400 });

/** An absolute http(s) URL without a fragment, or a client_invalid error naming `what`. */
function webUrl(what: string, uri: string, options: { httpsOnly?: boolean } = {}): URL {
  const url = URL.parse(uri);
  if (!url) throw invalid(`${what}: not a URL: ${uri}`);
  if (options.httpsOnly ? url.protocol !== 'https:' : !['http:', 'https:'].includes(url.protocol)) {
    throw invalid(`${what} must be an ${options.httpsOnly ? 'https' : 'http(s)'} URL: ${uri}`);
  }
  if (url.hash || uri.includes('#')) throw invalid(`${what} must not contain a fragment: ${uri}`);
  return url;
}

/**
 * The metadata oidc-provider would refuse, refused here with a readable message instead: a client
 * it cannot load answers invalid_client at every request, long after the operator has left.
 */
function checkOptions(input: NewClient): void {
  const alg = input.idTokenSignedResponseAlg;
  if (alg !== undefined && !(ID_TOKEN_SIGNING_ALGS as readonly string[]).includes(alg)) {
    throw invalid(`ID-token signing algorithm must be one of ${ID_TOKEN_SIGNING_ALGS.join(', ')}, not "${alg}".`);
  }
  if (input.sectorIdentifierUri !== undefined) {
    if (input.subjectType !== 'pairwise') throw invalid('A sector identifier URI is only for pairwise clients.');
    webUrl('The sector identifier URI', input.sectorIdentifierUri, { httpsOnly: true });
  }
  if (input.subjectType === 'pairwise' && input.sectorIdentifierUri === undefined && new Set(input.redirectUris.map((uri) => new URL(uri).host)).size > 1) {
    // OIDC Core 1.0, 8.1: without a sector_identifier_uri the sector is the one redirect host.
    throw invalid('A pairwise client whose redirect URIs have different hosts needs a sector identifier URI (OpenID Connect Core 1.0, 8.1).');
  }
  if (input.backchannelLogoutUri !== undefined) webUrl('The back-channel logout URI', input.backchannelLogoutUri);
  if (input.frontchannelLogoutUri !== undefined) {
    const url = webUrl('The front-channel logout URI', input.frontchannelLogoutUri);
    // Front-Channel Logout 1.0, 2: "The domain, port, and scheme of this URL MUST be the same as
    // that of a registered Redirection URI value."
    if (!input.redirectUris.some((uri) => new URL(uri).origin === url.origin)) {
      throw invalid(`The front-channel logout URI must have the scheme, host and port of a redirect URI: ${input.frontchannelLogoutUri}`);
    }
  }
}

export function createClientRegistry(deps: { clients: ClientQueries; sealer: Sealer }) {
  return {
    /** `trx`: write inside the caller's transaction (the CLI's commands: the client and its audit event together). */
    async add(input: NewClient, trx?: Db): Promise<{ clientId: string; clientSecret: string | undefined }> {
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
      checkOptions(input);
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
          id_token_signed_response_alg: input.idTokenSignedResponseAlg ?? 'RS256',
          subject_type: input.subjectType ?? 'public',
          ...(input.sectorIdentifierUri ? { sector_identifier_uri: input.sectorIdentifierUri } : {}),
          require_pushed_authorization_requests: input.requirePushedAuthorizationRequests ?? false,
          ...(input.backchannelLogoutUri
            ? { backchannel_logout_uri: input.backchannelLogoutUri, backchannel_logout_session_required: input.backchannelLogoutSessionRequired ?? true }
            : {}),
          ...(input.frontchannelLogoutUri
            ? { frontchannel_logout_uri: input.frontchannelLogoutUri, frontchannel_logout_session_required: input.frontchannelLogoutSessionRequired ?? true }
            : {}),
        },
        secret_sealed: clientSecret ? deps.sealer.seal(Buffer.from(clientSecret, 'utf8'), clientSecretContext(clientId)) : null,
        first_party: input.firstParty ?? false,
      }, trx);
      return { clientId, clientSecret };
    },
    async list() {
      return (await deps.clients.list()).map((row) => ({
        clientId: row.client_id,
        name: String(row.metadata.client_name ?? ''),
        redirectUris: row.metadata.redirect_uris as string[],
        postLogoutRedirectUris: (row.metadata.post_logout_redirect_uris as string[] | undefined) ?? [],
        authMethod: String(row.metadata.token_endpoint_auth_method),
        idTokenSignedResponseAlg: String(row.metadata.id_token_signed_response_alg ?? 'RS256'),
        subjectType: String(row.metadata.subject_type ?? 'public'),
        firstParty: row.first_party,
        createdAt: row.created_at,
      }));
    },
    /**
     * A new secret for a confidential client, returned once (the old one stops working at once:
     * the provider reads the client from the database at every request). Undefined when there is
     * no such client; client_invalid for a public client, which has no secret.
     */
    async rotateSecret(clientId: string): Promise<string | undefined> {
      const row = await deps.clients.find(clientId);
      if (!row) return undefined;
      if (row.metadata.token_endpoint_auth_method === 'none') throw invalid('A public client has no secret to rotate.');
      const secret = randomBytes(32).toString('base64url');
      await deps.clients.upsert({ ...row, secret_sealed: deps.sealer.seal(Buffer.from(secret, 'utf8'), clientSecretContext(clientId)) });
      return secret;
    },
    remove: (clientId: string, trx?: Db) => deps.clients.delete(clientId, trx),
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
