import { createHash, randomBytes } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { errors, type Provider, type InteractionResults } from 'oidc-provider';
import { frameUploadLimits, noStore, parseCheckedForm, parseCheckedJson, parseCheckedMultipart, respond, wantsJson, type Csrf, type MultipartLimits, type Views } from '../http/index.ts';
import { AppError, type Clock } from '../shared/index.ts';
import { acceptableAcrs, type AcrParams, type Factor, type FactorDone } from '../policy/index.ts';
import type { ConsentQueries } from '../db/index.ts';
import { challengeResponse, framesToMatch, type Liveness } from '../liveness/index.ts';
import type { InteractionFlow, LoginDecision, NextStep } from './flow.ts';
import { abortResult, loginResult, unmetResult } from './result.ts';

/**
 * Interaction routes (the login and consent prompts of oidc-provider) and stand-alone sign-up.
 * Each handler is thin: guard, interactionDetails, assert the prompt, call the flow, finish.
 *
 * After every factor the policy table (src/policy, through flow.next) says what comes next: the
 * next factor's page, the provider's resume URL (done), or the unmet page.
 *
 *   GET  /interaction/:uid            login (username, passkey) or consent page; JSON: state + csrf
 *   POST /interaction/:uid/login      username                       -> 303 face step
 *   GET  /interaction/:uid/face       camera page
 *   POST /interaction/:uid/face       multipart `frame` parts        -> 303 next step / provider resume
 *   GET  /interaction/:uid/passkey    passkey page (as the second factor)
 *   GET  /interaction/:uid/passkey/options   WebAuthn request options (JSON)
 *   POST /interaction/:uid/passkey    JSON {csrf, response}          -> 200 {location}: next step
 *   GET  /interaction/:uid/totp       one-time-code page (TOTP, or a recovery code)
 *   POST /interaction/:uid/totp       `code`                         -> 303 next step / provider resume
 *   POST /interaction/:uid/unmet      back to the client with unmet_authentication_requirements
 *   GET  /interaction/:uid/signup     sign-up page (within a sign-in)
 *   POST /interaction/:uid/signup     multipart fields + frames      -> 303 provider resume
 *   POST /interaction/:uid/confirm    consent                        -> 303 provider resume
 *   POST /interaction/:uid/abort      cancel                         -> 303 provider resume (access_denied)
 *   GET  /signup, POST /signup        stand-alone sign-up            -> 303 /signup/done
 */

interface InteractionRouterDeps {
  provider: Provider;
  flow: InteractionFlow;
  views: Views;
  csrf: Csrf;
  frameLimits: Pick<MultipartLimits, 'maxFiles' | 'maxFileBytes'>;
  /** How many frames the camera page captures for a sign-in and for an enrollment. */
  captureFrames: { signIn: number; enroll: number };
  /** Presentation-attack detection (LIVENESS=on): camera steps answer a challenge with a burst. */
  liveness?: Liveness;
  secureCookies: boolean;
  clock: Clock;
  /** Remembered consent (the consent page is asked once per client, until revoked). */
  consents: Pick<ConsentQueries, 'find' | 'remember'>;
}

/** Consent reasons a remembered consent may answer; prompt=consent and the like always ask. */
const REMEMBERABLE = new Set(['op_scopes_missing', 'op_claims_missing']);

/**
 * A random id per browser, in a signed cookie: the browser a person has signed in with before
 * gets a failure budget of its own (flow.ts), so a stranger cannot lock the owner out.
 */
const DEVICE_COOKIE = 'fid.device';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** This sign-in's progress, kept in the interaction (server side, bound to the browser's cookie). */
interface SignInState {
  /** As typed on the login page (the face step's failure budget is keyed by it). */
  username?: string;
  /** The account the factors so far proved (a face match, or a passkey). */
  accountId?: string;
  /** The factors met, in order, and when the first one was. */
  done?: FactorDone[];
  startedAt?: number;
  /** The account cannot meet what the relying party asks (the unmet page was shown). */
  unmet?: boolean;
}

/** All factors of one sign-in within this time of the first (a match does not stay good for long). */
const FACTOR_WINDOW_MS = 5 * 60 * 1000;

const PAGE_OF: Record<Factor, string> = { face: 'face', passkey: 'passkey', otp: 'totp' };

/** Login prompt reasons that mean "the same user, more strongly" rather than "sign in". */
const STEP_UP_REASONS = new Set(['acr_step_up', 'essential_acr', 'essential_acrs']);

const SIGNUP_FIELDS = 8;

const UNMET_MESSAGE = 'This application requires a factor that your account has not set up.';

export function createInteractionRouter(deps: InteractionRouterDeps): Router {
  const router = new Router();
  const { provider, views, csrf } = deps;

  const frameUpload = frameUploadLimits(deps.frameLimits, SIGNUP_FIELDS);

  function deviceOf(ctx: Context): string {
    const current = ctx.cookies.get(DEVICE_COOKIE, { signed: true });
    if (current && /^[\w-]{22,64}$/.test(current)) return current;
    const id = randomBytes(16).toString('base64url');
    ctx.cookies.set(DEVICE_COOKIE, id, { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/', maxAge: 365 * 24 * 60 * 60_000, overwrite: true });
    return id;
  }

  /** The camera upload's fields and frames, read only when the flow asks (after its rate and lockout checks). */
  const uploadOf = async (ctx: Context) => {
    const body = await parseCheckedMultipart(ctx, csrf, frameUpload);
    return { fields: body.fields, frames: body.files.map((file) => file.data) };
  };

  /**
   * With PAD: the burst answering `binding`'s challenge (fields `challenge` and `times`, a JSON
   * array of capture times in ms, one per frame) is checked, and only its most frontal frames go on
   * to the match. Without PAD: the frames as they are.
   */
  const checkedFramesOf = (ctx: Context, binding: string) => async () => {
    const { fields, frames } = await uploadOf(ctx);
    return framesToMatch(deps.liveness, binding, fields, frames);
  };
  /**
   * A sign-up's fields and frames. With PAD the frames are a burst answering the challenge issued
   * to this sign-up page (bound to its CSRF token, so to this browser), and only its most frontal
   * frames become the template: a photo cannot enroll a face.
   */
  const bodyOf = (ctx: Context, seen?: { fields?: Record<string, string | undefined> }) => async () => {
    const { fields, frames } = await uploadOf(ctx);
    if (seen) seen.fields = fields;
    return { fields, frames: await framesToMatch(deps.liveness, signupBinding(fields.csrf), fields, frames) };
  };
  const signupBinding = (token: string | undefined) => `signup:${createHash('sha256').update(token ?? '').digest('base64url')}`;
  /** PAD: a challenge for a sign-up page (POST with its CSRF token). */
  const signupChallenge = async (ctx: Context) => {
    const fields = await parseCheckedForm(ctx, csrf);
    if (!deps.liveness) throw new AppError('liveness_disabled', 'This server does not use camera challenges.', { status: 404 });
    const challenge = await deps.liveness.challenge(signupBinding(fields.csrf));
    ctx.body = challengeResponse(challenge);
  };

  /**
   * A sign-up the flow refused (no face, a taken username, …) gives the form back with what the
   * user typed and the reason, instead of an error page whose "try again" loses it. Only once the
   * body was read (its CSRF token checked): otherwise there is nothing to give back.
   */
  async function signUpAgain(ctx: Context, error: unknown, seen: { fields?: Record<string, string | undefined> }, page: Record<string, unknown>): Promise<boolean> {
    if (!(error instanceof AppError) || error.status >= 500 || !seen.fields || wantsJson(ctx)) return false;
    const token = csrf.token(ctx);
    const values = { username: seen.fields.username ?? '', email: seen.fields.email ?? '', name: seen.fields.name ?? '', consent: seen.fields.consent === 'yes' };
    ctx.status = error.status;
    render(ctx, 'signup.njk', { ...page, csrf: token, frames: deps.captureFrames.enroll, challengeUrl: deps.liveness ? `${String(page.action)}/challenge` : undefined, values, error: { code: error.code, message: error.message } }, {});
    return true;
  }

  // Every interaction page has a JSON form (kiosks, native apps, tests drive the flow with it).
  const render = (ctx: Context, template: string, context: Record<string, unknown>, json: Record<string, unknown>) =>
    respond(ctx, views, template, context, json);

  const seeOther = (ctx: Context, location: string) => {
    ctx.status = 303;
    ctx.redirect(location);
  };

  /** Loads the interaction bound to this browser's cookie and checks it is the one in the URL. */
  async function details(ctx: Context, expectedPrompt?: string): Promise<Details> {
    let interaction: Details;
    try {
      interaction = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (cause) {
      if (cause instanceof errors.SessionNotFound) {
        throw new AppError('interaction_expired', 'This sign-in has expired or was started in another browser. Go back to the application and sign in again.', { status: 400, cause });
      }
      throw cause;
    }
    if (interaction.uid !== ctx.params.uid) {
      throw new AppError('interaction_expired', 'This sign-in page is out of date. Go back to the application and sign in again.', { status: 400 });
    }
    if (expectedPrompt && interaction.prompt.name !== expectedPrompt) {
      throw new AppError('interaction_wrong_step', 'This step is not part of the current sign-in.', { status: 400 });
    }
    return interaction;
  }

  const stateOf = (interaction: Details): SignInState => ((interaction.result as { faceid?: SignInState } | undefined)?.faceid ?? {});

  async function saveState(interaction: Details, state: SignInState): Promise<void> {
    interaction.result = { ...(interaction.result ?? {}), faceid: state } as InteractionResults;
    await interaction.persist();
  }

  async function finish(ctx: Context, result: InteractionResults): Promise<void> {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    seeOther(ctx, returnTo);
  }

  async function clientOf(interaction: Details) {
    const client = await provider.Client.find(String(interaction.params.client_id));
    return { id: client?.clientId, name: client?.clientName ?? client?.clientId };
  }

  const requestContext = (ctx: Context, interaction: Details) => ({
    ip: ctx.ip,
    clientId: String(interaction.params.client_id),
  });

  const readUsername = (raw: string | undefined): string => {
    const username = (raw ?? '').trim();
    if (username.length < 1 || username.length > 64) {
      throw new AppError('username_invalid', 'Please enter your username.', { status: 422 });
    }
    return username;
  };

  router.use(noStore);

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await details(ctx);
    const uid = interaction.uid;
    const client = await clientOf(interaction);
    const token = csrf.token(ctx);
    const base = { uid, client, csrf: token };

    if (interaction.prompt.name === 'login') {
      const known = interaction.session?.accountId;
      const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : undefined;
      const username = stateOf(interaction).username ?? hint ?? (await deps.flow.usernameOf(known)) ?? '';
      // A request only a passkey can begin (acr_values passkey-face): the page leads with it.
      const starts = deps.flow.startsWith(acceptableAcrs(interaction.params as AcrParams));
      const passkeyFirst = !starts.has('face');
      render(ctx, 'login.njk', { ...base, username, reauth: Boolean(known), pinned: Boolean(pinnedAccount(interaction)), reasons: interaction.prompt.reasons, passkeyFirst }, {
        uid,
        prompt: 'login',
        passkeyFirst,
        csrf: token,
        next: { login: `/interaction/${uid}/login`, face: `/interaction/${uid}/face`, signup: `/interaction/${uid}/signup`, passkey: `/interaction/${uid}/passkey`, passkeyOptions: `/interaction/${uid}/passkey/options` },
      });
      return;
    }
    if (interaction.prompt.name === 'consent') {
      const { missingOIDCScope = [], missingOIDCClaims = [] } = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      // Allowed before (in an earlier session) and nothing new asked: not asked again.
      const accountId = interaction.session?.accountId;
      const remembered = accountId ? await deps.consents.find(accountId, String(interaction.params.client_id)) : undefined;
      if (remembered && interaction.prompt.reasons.every((reason) => REMEMBERABLE.has(reason)) &&
          missingOIDCScope.every((scope) => remembered.scopes.includes(scope)) && missingOIDCClaims.every((claim) => remembered.claims.includes(claim))) {
        await finish(ctx, { consent: { grantId: await saveGrant(interaction, accountId!, missingOIDCScope, missingOIDCClaims) } });
        return;
      }
      render(ctx, 'consent.njk', { ...base, scopes: missingOIDCScope, claims: missingOIDCClaims }, {
        uid,
        prompt: 'consent',
        csrf: token,
        scopes: missingOIDCScope,
        claims: missingOIDCClaims,
        next: { confirm: `/interaction/${uid}/confirm`, abort: `/interaction/${uid}/abort` },
      });
      return;
    }
    throw new AppError('interaction_wrong_step', 'This sign-in step is not supported.', { status: 400 });
  });

  /** A re-authentication of the session's user (step-up, prompt=login) is pinned to that account. */
  const pinnedAccount = (interaction: Details) =>
    interaction.prompt.reasons.some((reason) => STEP_UP_REASONS.has(reason)) ? interaction.session?.accountId : undefined;

  /** The factors done so far, if still within the window; else the sign-in starts over. */
  function progress(interaction: Details): { state: SignInState; done: FactorDone[] } {
    const state = stateOf(interaction);
    if (state.startedAt !== undefined && deps.clock.now() - state.startedAt > FACTOR_WINDOW_MS) {
      throw new AppError('second_factor_expired', 'Too much time passed since your first step. Please start again.', { status: 401 });
    }
    return { state, done: state.done ?? [] };
  }

  /**
   * A factor was met for `accountId`: record it, ask the policy what is next, and answer with the
   * next page, the provider's resume URL, or the unmet page. For JSON callers (the passkey
   * script) the answer is { location } instead of a redirect.
   */
  async function advance(ctx: Context, interaction: Details, state: SignInState, accountId: string, step: FactorDone, asJson = false): Promise<void> {
    if (state.accountId !== undefined && state.accountId !== accountId) {
      throw new AppError('interaction_wrong_step', 'This step was for another account. Please start again.', { status: 400 });
    }
    const done = [...(state.done ?? []).filter((d) => d.factor !== step.factor), step];
    const params = interaction.params as AcrParams;
    const next: NextStep = await deps.flow.next({ accountId, done, acceptable: acceptableAcrs(params), ...requestContext(ctx, interaction) });
    const saved: SignInState = { ...state, accountId, done, startedAt: state.startedAt ?? deps.clock.now() };
    let location: string;
    if (next.kind === 'done') {
      location = await provider.interactionResult(ctx.req, ctx.res, loginResult(next.decision, params, deps.clock.now()), { mergeWithLastSubmission: false });
    } else if (next.kind === 'ask') {
      await saveState(interaction, saved);
      location = `/interaction/${interaction.uid}/${PAGE_OF[next.factor]}`;
    } else {
      await saveState(interaction, { ...saved, unmet: true });
      if (asJson) {
        ctx.status = 403;
        ctx.body = { error: 'unmet_authentication_requirements', message: UNMET_MESSAGE, location: `/interaction/${interaction.uid}/unmet` };
        return;
      }
      ctx.status = 403;
      const token = csrf.token(ctx);
      render(ctx, 'unmet.njk', { uid: interaction.uid, csrf: token, client: await clientOf(interaction) }, {
        error: 'unmet_authentication_requirements',
        message: UNMET_MESSAGE,
        csrf: token,
        next: { unmet: `/interaction/${interaction.uid}/unmet` },
      });
      return;
    }
    if (asJson) {
      ctx.body = { location };
      return;
    }
    seeOther(ctx, location);
  }

  router.post('/interaction/:uid/login', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}`;
    const fields = await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'login');
    // Whether the username exists is not checked here: the face step answers the same for both.
    // A new username starts a new sign-in (nothing done yet). A step-up (a session exists) is
    // for the session's account whatever was typed: the page shows who is signed in.
    const sessionUsername = await deps.flow.usernameOf(pinnedAccount(interaction));
    await saveState(interaction, { username: sessionUsername ?? readUsername(fields.username) });
    seeOther(ctx, `/interaction/${interaction.uid}/face`);
  });

  router.get('/interaction/:uid/face', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    const username = state.username ?? (await deps.flow.usernameOf(state.accountId));
    if (!username) {
      seeOther(ctx, `/interaction/${interaction.uid}`);
      return;
    }
    const token = csrf.token(ctx);
    // The lock state before the camera starts (a locked user is told the wait, not refused after the pictures).
    const attempts = await deps.flow.faceAttempts({ username: state.username, accountId: state.accountId, deviceId: deviceOf(ctx), ip: ctx.ip });
    render(ctx, 'face.njk', {
      uid: interaction.uid,
      username,
      csrf: token,
      action: `/interaction/${interaction.uid}/face`,
      frames: deps.captureFrames.signIn,
      challengeUrl: deps.liveness ? `/interaction/${interaction.uid}/face/challenge` : undefined,
      client: await clientOf(interaction),
      viaPasskey: state.accountId !== undefined,
      attempts,
    }, { uid: interaction.uid, prompt: 'login', step: 'face', csrf: token, username, attempts, liveness: deps.liveness !== undefined, next: { face: `/interaction/${interaction.uid}/face`, ...(deps.liveness ? { challenge: `/interaction/${interaction.uid}/face/challenge` } : {}) } });
  });

  // PAD: a new challenge for this sign-in's face step (each attempt gets its own).
  router.post('/interaction/:uid/face/challenge', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    await parseCheckedForm(ctx, csrf);
    if (!deps.liveness) throw new AppError('liveness_disabled', 'This server does not use camera challenges.', { status: 404 });
    if (!state.username && !state.accountId) throw new AppError('username_invalid', 'Please enter your username first.', { status: 422 });
    const challenge = await deps.liveness.challenge(`interaction:${interaction.uid}`);
    ctx.body = challengeResponse(challenge);
  });

  router.post('/interaction/:uid/face', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/face`;
    // The interaction, the username and the flow's rate and lockout checks come before the
    // upload is read: an upload for no sign-in, or from a locked-out client, is never buffered.
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    if (!state.username && !state.accountId) throw new AppError('username_invalid', 'Please enter your username first.', { status: 422 });
    const pinned = pinnedAccount(interaction);
    if (pinned && state.accountId && pinned !== state.accountId) throw new AppError('interaction_wrong_step', 'This sign-in is for another account.', { status: 400 });
    const { accountId } = await deps.flow.faceSignIn({
      ...(state.accountId ? { accountId: state.accountId } : { username: readUsername(state.username) }),
      frames: checkedFramesOf(ctx, `interaction:${interaction.uid}`),
      deviceId: deviceOf(ctx),
      pinnedAccountId: pinned ?? state.accountId,
      ...requestContext(ctx, interaction),
    });
    await advance(ctx, interaction, state, accountId, { factor: 'face', pad: deps.liveness !== undefined });
  });

  router.get('/interaction/:uid/passkey', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    const token = csrf.token(ctx);
    const username = await deps.flow.usernameOf(state.accountId);
    render(ctx, 'passkey.njk', {
      uid: interaction.uid,
      csrf: token,
      username,
      client: await clientOf(interaction),
      options: `/interaction/${interaction.uid}/passkey/options`,
      action: `/interaction/${interaction.uid}/passkey`,
      recovery: state.accountId ? `/interaction/${interaction.uid}/totp` : undefined,
    }, { uid: interaction.uid, prompt: 'login', step: 'passkey', csrf: token, next: { options: `/interaction/${interaction.uid}/passkey/options`, passkey: `/interaction/${interaction.uid}/passkey` } });
  });

  router.get('/interaction/:uid/passkey/options', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    const account = state.accountId ?? pinnedAccount(interaction);
    ctx.body = await deps.flow.passkeyOptions({ binding: `interaction:${interaction.uid}`, ...(account ? { accountId: account } : {}) });
  });

  router.post('/interaction/:uid/passkey', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/passkey`;
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    const body = await parseCheckedJson(ctx, csrf);
    const expected = state.accountId ?? pinnedAccount(interaction);
    const use = await deps.flow.passkeySignIn({
      binding: `interaction:${interaction.uid}`,
      response: body.response,
      ...(expected ? { expectedAccountId: expected } : {}),
      ...requestContext(ctx, interaction),
    });
    await advance(ctx, interaction, state, use.accountId, { factor: 'passkey', backedUp: use.backedUp, userVerified: use.userVerified }, true);
  });

  router.get('/interaction/:uid/totp', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { state } = progress(interaction);
    if (!state.accountId || !(state.done ?? []).some((d) => d.factor === 'face')) {
      seeOther(ctx, `/interaction/${interaction.uid}`);
      return;
    }
    const token = csrf.token(ctx);
    const username = state.username ?? (await deps.flow.usernameOf(state.accountId));
    render(ctx, 'totp.njk', { uid: interaction.uid, csrf: token, username, client: await clientOf(interaction) }, {
      uid: interaction.uid,
      prompt: 'login',
      step: 'totp',
      csrf: token,
      next: { totp: `/interaction/${interaction.uid}/totp` },
    });
  });

  router.post('/interaction/:uid/totp', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/totp`;
    const fields = await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'login');
    let progressed;
    try {
      progressed = progress(interaction);
    } catch (error) {
      ctx.state.retryUrl = `/interaction/${interaction.uid}`;
      throw error;
    }
    const { state } = progressed;
    // A one-time code is a second factor: only after the face (never instead of it).
    if (!state.accountId || !(state.done ?? []).some((d) => d.factor === 'face')) {
      ctx.state.retryUrl = `/interaction/${interaction.uid}`;
      throw new AppError('second_factor_expired', 'Please start again with your face.', { status: 401 });
    }
    const code = (fields.code ?? '').slice(0, 64);
    await deps.flow.totpSignIn({ accountId: state.accountId, code, ...requestContext(ctx, interaction) });
    await advance(ctx, interaction, state, state.accountId, { factor: 'otp' });
  });

  router.post('/interaction/:uid/unmet', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'login');
    if (!stateOf(interaction).unmet) throw new AppError('interaction_wrong_step', 'This step is not part of the current sign-in.', { status: 400 });
    await finish(ctx, unmetResult());
  });

  router.get('/interaction/:uid/signup', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const token = csrf.token(ctx);
    render(ctx, 'signup.njk', {
      csrf: token,
      action: `/interaction/${interaction.uid}/signup`,
      checkUsername: `/interaction/${interaction.uid}/signup/username`,
      frames: deps.captureFrames.enroll,
      challengeUrl: deps.liveness ? `/interaction/${interaction.uid}/signup/challenge` : undefined,
      client: await clientOf(interaction),
      backUrl: `/interaction/${interaction.uid}`,
    }, { uid: interaction.uid, csrf: token, liveness: deps.liveness !== undefined, next: { signup: `/interaction/${interaction.uid}/signup`, username: `/interaction/${interaction.uid}/signup/username`, ...(deps.liveness ? { challenge: `/interaction/${interaction.uid}/signup/challenge` } : {}) } });
  });

  router.post('/interaction/:uid/signup', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/signup`;
    const interaction = await details(ctx, 'login');
    const seen: { fields?: Record<string, string | undefined> } = {};
    let decision: LoginDecision;
    try {
      decision = await deps.flow.signUp({ body: bodyOf(ctx, seen), ...requestContext(ctx, interaction) });
    } catch (error) {
      const page = { action: `/interaction/${interaction.uid}/signup`, checkUsername: `/interaction/${interaction.uid}/signup/username`, client: await clientOf(interaction), backUrl: `/interaction/${interaction.uid}` };
      if (await signUpAgain(ctx, error, seen, page)) return;
      throw error;
    }
    await finish(ctx, loginResult(decision, {}, deps.clock.now()));
  });

  // Before the camera: is the username free? As costly to ask as a sign-up (the same per-address
  // budget), so it tells no more about which accounts exist than a sign-up attempt would.
  const checkUsername = async (ctx: Context) => {
    const fields = ctx.is('application/json') ? await parseCheckedJson(ctx, csrf) : await parseCheckedForm(ctx, csrf);
    ctx.body = await deps.flow.usernameAvailable({ username: typeof fields.username === 'string' ? fields.username : '', ip: ctx.ip });
  };
  router.post('/interaction/:uid/signup/username', async (ctx) => {
    await details(ctx, 'login');
    await checkUsername(ctx);
  });
  router.post('/signup/username', checkUsername);
  router.post('/signup/challenge', signupChallenge);
  router.post('/interaction/:uid/signup/challenge', async (ctx) => {
    await details(ctx, 'login');
    await signupChallenge(ctx);
  });

  /** The interaction's grant, widened by what the consent covers. */
  async function saveGrant(interaction: Details, accountId: string, scopes: string[], claims: string[]): Promise<string> {
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new AppError('interaction_expired', 'This consent request has expired.', { status: 400 });
    if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
    if (claims.length > 0) grant.addOIDCClaims(claims);
    return grant.save();
  }

  router.post('/interaction/:uid/confirm', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'consent');
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new AppError('interaction_expired', 'Your session has ended. Please sign in again.', { status: 400 });
    const { missingOIDCScope = [], missingOIDCClaims = [] } = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    const grantId = await saveGrant(interaction, accountId, missingOIDCScope, missingOIDCClaims);
    // Remembered for later sessions; offline access is not: a refresh token needs prompt=consent
    // every time (OpenID Connect Core 1.0, 11).
    await deps.consents.remember(accountId, String(interaction.params.client_id), missingOIDCScope.filter((scope) => scope !== 'offline_access'), missingOIDCClaims, new Date(deps.clock.now()));
    await finish(ctx, { consent: { grantId } });
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    await details(ctx);
    await finish(ctx, abortResult('The user cancelled the sign-in.'));
  });

  router.get('/signup', async (ctx) => {
    const token = csrf.token(ctx);
    render(ctx, 'signup.njk', { csrf: token, action: '/signup', checkUsername: '/signup/username', frames: deps.captureFrames.enroll, challengeUrl: deps.liveness ? '/signup/challenge' : undefined }, { csrf: token, liveness: deps.liveness !== undefined, next: { signup: '/signup', username: '/signup/username', ...(deps.liveness ? { challenge: '/signup/challenge' } : {}) } });
  });

  router.post('/signup', async (ctx) => {
    ctx.state.retryUrl = '/signup';
    const seen: { fields?: Record<string, string | undefined> } = {};
    try {
      await deps.flow.signUp({ body: bodyOf(ctx, seen), ip: ctx.ip });
    } catch (error) {
      if (await signUpAgain(ctx, error, seen, { action: '/signup', checkUsername: '/signup/username' })) return;
      throw error;
    }
    seeOther(ctx, '/signup/done');
  });

  router.get('/signup/done', async (ctx) => {
    render(ctx, 'signup-done.njk', {}, { status: 'enrolled' });
  });

  return router;
}
