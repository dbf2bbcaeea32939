import { createHmac } from 'node:crypto';
import { Provider, errors, interactionPolicy, type Client, type Configuration, type KoaContextWithOIDC, type FindAccount } from 'oidc-provider';
import type { JWK } from 'jose';
import type { AccountQueries } from '../db/index.ts';
import { renderErrorPage, type Views } from '../http/index.ts';
import { acceptableAcrs, satisfies, type AcrParams } from '../policy/index.ts';
import type { Logger } from '../shared/index.ts';
import { ID_TOKEN_SIGNING_ALGS } from './clients.ts';

interface ProviderDeps {
  issuer: string;
  adapter: Configuration['adapter'];
  jwks: { keys: JWK[] };
  cookieKeys: readonly string[];
  accounts: AccountQueries;
  views: Views;
  /** Behind a TLS-terminating proxy: trust X-Forwarded-* (koa's `proxy`). */
  trustProxy: boolean;
  /** How many X-Forwarded-For entries, from the right, our own proxies wrote. */
  proxyHops: number;
  secureCookies: boolean;
  /** The acr values this deployment asserts (discovery's acr_values_supported). */
  acrValues: readonly string[];
  /** The amr values this deployment asserts (discovery's amr_values_supported). */
  amrValues: readonly string[];
  /** The salt of pairwise subject identifiers (IdpKeys.pairwiseSubject). */
  pairwiseKey: Buffer;
  /** Relying-party origins on loopback or private networks the IdP may call (Config.outboundPrivateOrigins). */
  outboundPrivateOrigins: readonly string[];
  logger: Logger;
}

const SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;

/**
 * The default login and consent prompts, plus step-up: a request whose acr_values (or claims acr)
 * the session's acr does not satisfy asks for a new login even inside a session. oidc-provider
 * itself only re-prompts for an *essential* acr claim; acr_values are voluntary in OIDC Core
 * 3.1.2.1, but a relying party that names only face+TOTP means it.
 */
function interactionPolicyWithStepUp() {
  const { base, Check } = interactionPolicy;
  const policy = base();
  policy.get('login')!.checks.add(
    new Check('acr_step_up', 'a stronger authentication is requested', (ctx) => {
      const acceptable = acceptableAcrs(ctx.oidc.params as AcrParams);
      if (!ctx.oidc.session?.accountId || satisfies(ctx.oidc.acr, acceptable)) return Check.NO_NEED_TO_PROMPT;
      return Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

/**
 * OpenID Connect Core 1.0, 8.1: a pairwise `sub` must be the same for one account and one sector
 * and unlinkable across sectors. HMAC-SHA256 under a key derived from SEALING_KEY (never stored):
 * without the key, nobody holding two sectors' subjects (or the database) can tell whether they
 * name the same account, nor compute the subject of a known account id.
 */
export function pairwiseSubject(key: Buffer, sectorIdentifier: string, accountId: string): string {
  return createHmac('sha256', key).update(`${sectorIdentifier}\n${accountId}`).digest('base64url');
}

/**
 * Which browser origins may read the IdP's answers to a client's requests (oidc-provider asks for
 * every actual CORS request to the token, userinfo, revocation, introspection and PAR endpoints;
 * discovery and the JWKS are open to all origins, preflights are answered and the real request is
 * judged here). The rule:
 * - the origin must be one the client registered, i.e. the scheme, host and port of one of its
 *   redirect URIs: a page of any other origin is not that client's, and reading tokens or
 *   userinfo from it is what CORS exists to prevent (Fetch, 3.2);
 * - and, except at userinfo, the client must be public (token_endpoint_auth_method none): a
 *   browser page cannot keep a client secret (OAuth 2.0 for Browser-Based Applications), so a
 *   confidential client talks to the token endpoint from its server, which needs no CORS; userinfo
 *   is called with the access token alone;
 * - the opaque origin `null` (sandboxed frames, file: pages) is never allowed.
 * A refused origin gets no Access-Control-Allow-Origin and the request fails with invalid_request.
 */
export function corsAllowed(route: string | undefined, origin: string, client: Pick<Client, 'redirectUris' | 'clientAuthMethod'>): boolean {
  if (origin === 'null') return false;
  const registered = (client.redirectUris ?? []).some((uri) => {
    const url = URL.parse(uri);
    return url !== null && (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
  });
  if (!registered) return false;
  return route === 'userinfo' || client.clientAuthMethod === 'none';
}

/**
 * Outbound calls to relying parties (back-channel logout tokens, sector_identifier_uri documents).
 * oidc-provider passes a dispatcher that refuses loopback, private and other special-use addresses
 * (against server-side request forgery: a registered URI must not make the IdP probe its own
 * network). Origins the operator lists in OUTBOUND_PRIVATE_ORIGINS go without it, so an RP on the
 * same host or network can still be told of a logout.
 */
function outboundFetch(privateOrigins: readonly string[]): NonNullable<Configuration['fetch']> {
  return (input, init) => {
    const target = new URL(input instanceof Request ? input.url : input);
    if (!privateOrigins.includes(target.origin)) return fetch(input, init);
    const { dispatcher: _ssrfChecked, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
    return fetch(input, rest);
  };
}

/** Front-Channel Logout 1.0 client metadata, kept by us (oidc-provider 9 does not implement the spec). */
const FRONTCHANNEL_METADATA = ['frontchannel_logout_uri', 'frontchannel_logout_session_required'] as const;

/**
 * The only `new Provider`. Choices, with their reasons:
 * - authorization code flow only, PKCE (S256) required for every client (OAuth 2.0 Security BCP,
 *   RFC 9700 section 2.1.1; OAuth 2.1 makes it mandatory), so the implicit and hybrid flows are off;
 * - refresh tokens only with offline_access (OIDC Core 11) and consent;
 * - ID tokens always carry auth_time (require_auth_time by default), acr and amr (RFC 8176);
 * - devInteractions off: every interaction page is ours (src/interaction);
 * - per client (src/oidc/clients.ts): RS256 or ES256 ID tokens, public or pairwise subjects,
 *   PAR required or not, back-channel and front-channel logout URIs (see frontchannel.ts).
 */
export function createProvider(deps: ProviderDeps): Provider {
  const findAccount: FindAccount = async (_ctx, sub) => {
    const account = await deps.accounts.findById(sub);
    // A locked account (src/admin) is unknown to the provider: no refresh, no userinfo, no session reuse.
    if (!account || account.locked_at) return undefined;
    return {
      accountId: account.id,
      claims: async () => ({
        sub: account.id,
        preferred_username: account.username,
        name: account.name || account.username,
        email: account.email,
        email_verified: account.email_verified,
      }),
    };
  };

  const page = (ctx: KoaContextWithOIDC, html: string) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = html;
  };

  const configuration: Configuration = {
    adapter: deps.adapter,
    findAccount,
    jwks: deps.jwks as Configuration['jwks'],
    acrValues: [...deps.acrValues],
    scopes: [...SCOPES],
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      // acr, amr and auth_time in every ID token: relying parties must be able to see how the user
      // authenticated without having to ask (OIDC Core 2; RFC 8176).
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // `none` serves the IdP's own account page, which needs a session and no tokens.
    responseTypes: ['code', 'none'],
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
    },
    extraClientMetadata: {
      properties: ['first_party', ...FRONTCHANNEL_METADATA],
      validator(_ctx, key, value, metadata) {
        if ((key === 'first_party' || key === 'frontchannel_logout_session_required') && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
        }
        if (key === 'frontchannel_logout_uri' && value !== undefined) {
          // Front-Channel Logout 1.0, 2: absolute, no fragment, the origin of a redirect URI.
          const url = typeof value === 'string' ? URL.parse(value) : null;
          const origins = ((metadata.redirect_uris as string[] | undefined) ?? []).map((uri) => URL.parse(uri)?.origin);
          if (!url || !['http:', 'https:'].includes(url.protocol) || url.hash || !origins.includes(url.origin)) {
            throw new errors.InvalidClientMetadata('frontchannel_logout_uri must be an http(s) URL without a fragment on the origin of a redirect_uri');
          }
        }
      },
    },
    // OIDC Core 1.0, 8: public subjects by default, pairwise for clients registered so.
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: (_ctx, accountId, client) => {
      // oidc-provider sets the sector of every pairwise client (the redirect or sector URI's host).
      const sector: unknown = client.sectorIdentifier;
      if (typeof sector !== 'string' || sector === '') throw new Error(`client ${client.clientId} has no sector identifier`);
      return pairwiseSubject(deps.pairwiseKey, sector, accountId);
    },
    clientBasedCORS: (ctx, origin, client) => corsAllowed(ctx.oidc.route, origin, client),
    // Only what src/keys keeps an active key for (an alg without a key fails at signing time).
    enabledJWA: { idTokenSigningAlgValues: [...ID_TOKEN_SIGNING_ALGS] },
    fetch: outboundFetch(deps.outboundPrivateOrigins),
    discovery: {
      // Front-Channel Logout 1.0, 3 (served by frontchannel.ts).
      frontchannel_logout_supported: true,
      frontchannel_logout_session_supported: true,
      // OpenID Connect Discovery 1.0, 3: the amr values ID tokens may carry (RFC 8176, plus the
      // PAD value when presentation-attack detection is on).
      amr_values_supported: [...deps.amrValues],
    },
    cookies: {
      keys: [...deps.cookieKeys],
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies },
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      // RFC 7009, 2.1: a client may revoke only tokens issued to it.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      // RFC 7662, 2.1 leaves the policy to the server: there are no separate resource servers here,
      // so a client may introspect only its own tokens (others read as inactive).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      // Back-Channel Logout 1.0: at the end of a session every client of it with a
      // backchannel_logout_uri is POSTed a logout token (signed like its ID tokens, typ
      // logout+jwt, with sid when backchannel_logout_session_required), before the redirect.
      backchannelLogout: { enabled: true },
      // RFC 9126: any client may push its request first; a client registered with
      // require_pushed_authorization_requests must (a plain authorization request is refused).
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false, allowUnregisteredRedirectUris: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => page(ctx, deps.views.render('logout.njk', { form, host: ctx.host })),
        postLogoutSuccessSource: async (ctx) =>
          page(ctx, deps.views.render('logged-out.njk', { clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId })),
      },
    },
    // First-party clients skip the consent page: their grant is extended to what they ask for.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (!ctx.oidc.client!.metadata().first_party) return existing;
      const grant = existing ?? new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      const claims = [...ctx.oidc.requestParamClaims];
      if (claims.length > 0) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    interactions: {
      policy: interactionPolicyWithStepUp(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: async (ctx, out) => {
      page(ctx, renderErrorPage(deps.views, {
        status: ctx.status,
        code: out.error,
        message: out.error_description ?? 'The request was not valid.',
        title: 'Sign-in could not continue',
      }));
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 900,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    rotateRefreshToken: true,
    revokeGrantPolicy: () => true,
  };

  const provider = new Provider(deps.issuer, configuration);
  // Front-Channel Logout 1.0, 3: an RP that wants iss and sid on its logout URI needs sid in its ID
  // tokens to match them. oidc-provider puts sid in only for back-channel clients
  // (Client#includeSid): this adds the front-channel ones.
  const includeSid = provider.Client.prototype.includeSid;
  provider.Client.prototype.includeSid = function includeSidForLogout(this: Client) {
    const metadata = this.metadata();
    return includeSid.call(this) || (typeof metadata.frontchannel_logout_uri === 'string' && metadata.frontchannel_logout_session_required === true);
  };
  // A logout token the RP did not take (not 200/204, or no answer within oidc-provider's 2.5 s):
  // the user is signed out here all the same, and the operator should know. Never the token itself.
  provider.on('backchannel.error', (_ctx: unknown, err: Error, client: Client) => {
    deps.logger.warn({ clientId: client.clientId, reason: err.message }, 'back-channel logout delivery failed');
  });
  provider.proxy = deps.trustProxy;
  // Only the entries our proxies appended are trusted: the leftmost ones are whatever the client
  // sent, and per-IP limits keyed on them could be dodged by writing a fresh address each time.
  provider.maxIpsCount = deps.proxyHops;
  return provider;
}
