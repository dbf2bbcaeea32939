import type { InteractionResults } from 'oidc-provider';
import type { LoginDecision } from './flow.ts';

/**
 * The only place that knows oidc-provider's interaction result shape. `amr` and `acr` end up in
 * the ID token (OIDC Core 2; RFC 8176); `ts` is the authentication time (auth_time).
 */
export function loginResult(decision: LoginDecision, now: number = Date.now()): InteractionResults {
  return {
    login: {
      accountId: decision.accountId,
      acr: decision.acr,
      amr: decision.amr,
      ts: Math.floor(now / 1000),
      remember: true,
    },
  };
}

export function abortResult(description: string): InteractionResults {
  return { error: 'access_denied', error_description: description };
}
