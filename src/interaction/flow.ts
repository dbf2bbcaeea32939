import type { AccountService } from '../accounts/index.ts';
import { validateSignup } from '../accounts/index.ts';
import type { Audit } from '../audit/index.ts';
import type { BiometricService } from '../biometric/index.ts';
import { ACR_FACE, AMR_FACE, type Acr } from '../oidc/acr.ts';
import { AppError, isAppError } from '../shared/index.ts';

/**
 * The sign-in and sign-up steps, free of Koa and oidc-provider: the router parses the request,
 * calls one of these, and hands the decision to `result.ts`. Any doubt in the face step is a
 * denial (fail closed); every outcome is audited.
 */

export interface LoginDecision {
  accountId: string;
  acr: Acr;
  amr: string[];
}

export interface RequestContext {
  clientId?: string;
  ip?: string;
}

export interface FlowDeps {
  accounts: AccountService;
  biometric: BiometricService;
  audit: Audit;
}

export const DENIED_MESSAGE = 'Your face did not match this account. Check the lighting, look at the camera and try again.';

export function createInteractionFlow(deps: FlowDeps) {
  return {
    /**
     * Face sign-in for `username`. The answer for an unknown username is the same denial as for a
     * wrong face, after the same face work, so the step does not reveal which usernames exist.
     * `requiredAccountId` pins a re-authentication (step-up, prompt=login) to the session's account.
     */
    async faceSignIn(input: { username: string; frames: Uint8Array[]; requiredAccountId?: string } & RequestContext): Promise<LoginDecision> {
      const account = await deps.accounts.findByUsername(input.username);
      const pinnedElsewhere = input.requiredAccountId !== undefined && account?.id !== input.requiredAccountId;
      const template = account && !pinnedElsewhere ? await deps.accounts.template(account.id) : undefined;
      let matched: boolean;
      try {
        matched = await deps.biometric.verify({
          accountId: template ? account!.id : undefined,
          template: template && { ciphertext: template.ciphertext, heParams: template.he_params, modelVersion: template.model_version },
          frames: input.frames,
        });
      } catch (error) {
        if (isAppError(error) && error.status < 500) {
          await deps.audit.record({ type: 'face_refused', outcome: error.code, accountId: account?.id ?? null, clientId: input.clientId ?? null, ip: input.ip ?? null });
        }
        throw error;
      }
      if (!matched || !account) {
        await deps.audit.record({
          type: 'signin',
          outcome: 'denied',
          accountId: account?.id ?? null,
          clientId: input.clientId ?? null,
          ip: input.ip ?? null,
          detail: { reason: template ? 'no_match' : 'no_template' },
        });
        throw new AppError('face_not_matched', DENIED_MESSAGE, { status: 401 });
      }
      await deps.audit.record({ type: 'signin', outcome: 'success', accountId: account.id, clientId: input.clientId ?? null, ip: input.ip ?? null, detail: { amr: [...AMR_FACE] } });
      return { accountId: account.id, acr: ACR_FACE, amr: [...AMR_FACE] };
    },

    /** Sign-up: validate the form first (cheap), then enroll the face, then create both at once. */
    async signUp(input: { fields: Record<string, string | undefined>; frames: Uint8Array[] } & RequestContext): Promise<LoginDecision> {
      const form = validateSignup(input.fields);
      if (await deps.accounts.findByUsername(form.username)) {
        throw new AppError('username_taken', 'That username is taken. Please choose another.', { status: 409 });
      }
      const template = await deps.biometric.enroll(input.frames);
      const account = await deps.accounts.create(form, template, { ip: input.ip, clientId: input.clientId });
      return { accountId: account.id, acr: ACR_FACE, amr: [...AMR_FACE] };
    },
  };
}

export type InteractionFlow = ReturnType<typeof createInteractionFlow>;
