import { Provider, errors, interactionPolicy, type Configuration, type KoaContextWithOIDC, type FindAccount } from 'oidc-provider';
import type { JWK } from 'jose';
import type { AccountQueries } from '../db/index.ts';
import { renderErrorPage, type Views } from '../http/index.ts';
import { acceptableAcrs, satisfies, type AcrParams } from '../policy/index.ts';

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
 * The only `new Provider`. Choices, with their reasons:
 * - authorization code flow only, PKCE (S256) required for every client (OAuth 2.0 Security BCP,
 *   RFC 9700 section 2.1.1; OAuth 2.1 makes it mandatory), so the implicit and hybrid flows are off;
 * - refresh tokens only with offline_access (OIDC Core 11) and consent;
 * - ID tokens always carry auth_time (require_auth_time by default), acr and amr (RFC 8176);
 * - devInteractions off: every interaction page is ours (src/interaction).
 */
export function createProvider(deps: ProviderDeps): Provider {
  const findAccount: FindAccount = async (_ctx, sub) => {
    const account = await deps.accounts.findById(sub);
    if (!account) return undefined;
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
      properties: ['first_party'],
      validator(_ctx, key, value) {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new TypeError('first_party must be a boolean');
        }
      },
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
  provider.proxy = deps.trustProxy;
  // Only the entries our proxies appended are trusted: the leftmost ones are whatever the client
  // sent, and per-IP limits keyed on them could be dodged by writing a fresh address each time.
  provider.maxIpsCount = deps.proxyHops;
  return provider;
}
