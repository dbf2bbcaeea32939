import type { InteractionResults } from 'oidc-provider';
import { assertedAcr, type AcrParams } from '../policy/index.ts';
import type { LoginDecision } from './flow.ts';

/**
 * The only place that knows oidc-provider's interaction result shape. `amr` and `acr` end up in
 * the ID token (OIDC Core 2; RFC 8176); `ts` is the authentication time (auth_time).
 */
export function loginResult(decision: LoginDecision, params: AcrParams = {}, now: number = Date.now()): InteractionResults {
  return {
    login: {
      accountId: decision.accountId,
      acr: assertedAcr(decision.acr, params),
      amr: decision.amr,
      ts: Math.floor(now / 1000),
      remember: true,
    },
  };
}

export function abortResult(description: string): InteractionResults {
  return { error: 'access_denied', error_description: description };
}

/** OpenID Connect Core Error Code unmet_authentication_requirements 1.0: the account cannot meet the requested acr. */
export function unmetResult(): InteractionResults {
  return {
    error: 'unmet_authentication_requirements',
    error_description: 'The account cannot satisfy the requested authentication context (it has no second factor).',
  };
}
