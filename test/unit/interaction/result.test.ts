import { describe, expect, it } from 'vitest';
import { abortResult, loginResult, unmetResult } from '../../../src/interaction/result.ts';
import { ACR_FACE, ACR_FACE_OTP } from '../../../src/policy/index.ts';

/** The only place that knows oidc-provider's interaction result shape. */
describe('interaction results', () => {
  const at = Date.UTC(2026, 11, 1, 12, 0, 0, 750);

  it.each([
    ['face', { accountId: 'a1', acr: ACR_FACE, amr: ['face'] }, {}, ACR_FACE],
    ['face + TOTP', { accountId: 'a2', acr: ACR_FACE_OTP, amr: ['face', 'otp', 'mfa'] }, {}, ACR_FACE_OTP],
    ['face + TOTP asked for face', { accountId: 'a3', acr: ACR_FACE_OTP, amr: ['face', 'otp', 'mfa'] }, { acr_values: ACR_FACE }, ACR_FACE],
  ] as const)('a %s login: account, acr, amr and auth_time in whole seconds', (_case, decision, params, acr) => {
    expect(loginResult({ ...decision, amr: [...decision.amr] }, params, at)).toEqual({
      login: { accountId: decision.accountId, acr, amr: [...decision.amr], ts: Math.floor(at / 1000), remember: true },
    });
  });

  it('an abort is access_denied; an unmet requirement is unmet_authentication_requirements (never a weaker token)', () => {
    expect(abortResult('cancelled')).toEqual({ error: 'access_denied', error_description: 'cancelled' });
    expect(unmetResult()).toMatchObject({ error: 'unmet_authentication_requirements' });
  });
});
