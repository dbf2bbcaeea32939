/**
 * The sign-in interaction: the flow (framework-free steps) and the router (thin HTTP handlers);
 * result.ts is the only place that knows oidc-provider's result shape.
 */
export { createInteractionFlow, DEFAULT_POLICIES, DEFAULT_RATES, type InteractionFlow, type LoginDecision, type UploadedBody } from './flow.ts';
export { createInteractionRouter } from './router.ts';
