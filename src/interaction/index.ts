/**
 * The sign-in interaction: the flow (framework-free steps) and the router (thin HTTP handlers);
 * result.ts is the only place that knows oidc-provider's result shape.
 */
export { createInteractionFlow, DEFAULT_POLICIES, DEFAULT_RATES, type FlowDeps, type InteractionFlow, type LoginDecision, type UploadedBody } from './flow.ts';
export { createInteractionRouter } from './router.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    enrollment_paused: true;
    face_not_matched: true;
    interaction_expired: true;
    interaction_wrong_step: true;
    liveness_disabled: true;
    no_frames: true;
    second_factor_expired: true;
    too_many_attempts: true;
    totp_invalid: true;
    username_invalid: true;
  }
}
