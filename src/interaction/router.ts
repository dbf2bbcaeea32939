import { randomBytes } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { errors, type Provider, type InteractionResults } from 'oidc-provider';
import { frameUploadLimits, noStore, parseCheckedForm, parseCheckedMultipart, respond, type Csrf, type MultipartLimits, type Views } from '../http/index.ts';
import { AppError, type Clock } from '../shared/index.ts';
import { ACR_FACE, requiredAcr, satisfies, type AcrParams } from '../oidc/index.ts';
import type { InteractionFlow } from './flow.ts';
import { abortResult, loginResult, unmetResult } from './result.ts';

/**
 * Interaction routes (the login and consent prompts of oidc-provider) and stand-alone sign-up.
 * Each handler is thin: guard, interactionDetails, assert the prompt, call the flow, finish.
 *
 *   GET  /interaction/:uid            login (username) or consent page; JSON: state + csrf token
 *   POST /interaction/:uid/login      username                       -> 303 face step
 *   GET  /interaction/:uid/face       camera page
 *   POST /interaction/:uid/face       multipart `frame` parts        -> 303 provider resume, or TOTP step
 *   GET  /interaction/:uid/totp       second-factor page (after a face match, accounts with TOTP)
 *   POST /interaction/:uid/totp       `code` (TOTP or recovery code) -> 303 provider resume
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
  secureCookies: boolean;
  clock: Clock;
}

/**
 * A random id per browser, in a signed cookie: the browser a person has signed in with before
 * gets a failure budget of its own (flow.ts), so a stranger cannot lock the owner out.
 */
const DEVICE_COOKIE = 'fid.device';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface FaceIdState {
  username?: string;
  /** Set after a face match of an account with TOTP: the account and when the face matched. */
  totpFor?: string;
  faceAt?: number;
  /** Set after a face match of an account that cannot meet the requested acr. */
  unmetFor?: string;
}

/** How long a face match stays good for the TOTP step that follows it. */
const SECOND_FACTOR_WINDOW_MS = 5 * 60 * 1000;

/** Login prompt reasons that mean "the same user, more strongly" rather than "sign in". */
const STEP_UP_REASONS = new Set(['acr_step_up', 'essential_acr', 'essential_acrs']);

const SIGNUP_FIELDS = 8;

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

  /** The camera upload, read only when the flow asks (after its rate and lockout checks). */
  const framesOf = (ctx: Context) => async () => (await parseCheckedMultipart(ctx, csrf, frameUpload)).files.map((file) => file.data);
  const bodyOf = (ctx: Context) => async () => {
    const body = await parseCheckedMultipart(ctx, csrf, frameUpload);
    return { fields: body.fields, frames: body.files.map((file) => file.data) };
  };

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

  const stateOf = (interaction: Details): FaceIdState => ((interaction.result as { faceid?: FaceIdState } | undefined)?.faceid ?? {});

  async function saveState(interaction: Details, state: FaceIdState): Promise<void> {
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
      render(ctx, 'login.njk', { ...base, username, reauth: Boolean(known), reasons: interaction.prompt.reasons }, {
        uid,
        prompt: 'login',
        csrf: token,
        next: { login: `/interaction/${uid}/login`, face: `/interaction/${uid}/face`, signup: `/interaction/${uid}/signup` },
      });
      return;
    }
    if (interaction.prompt.name === 'consent') {
      const { missingOIDCScope = [], missingOIDCClaims = [] } = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
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

  router.post('/interaction/:uid/login', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}`;
    const fields = await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'login');
    // Whether the username exists is not checked here: the face step answers the same for both.
    await saveState(interaction, { username: readUsername(fields.username) });
    seeOther(ctx, `/interaction/${interaction.uid}/face`);
  });

  router.get('/interaction/:uid/face', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const { username } = stateOf(interaction);
    if (!username) {
      seeOther(ctx, `/interaction/${interaction.uid}`);
      return;
    }
    const token = csrf.token(ctx);
    render(ctx, 'face.njk', {
      uid: interaction.uid,
      username,
      csrf: token,
      action: `/interaction/${interaction.uid}/face`,
      frames: deps.captureFrames.signIn,
      client: await clientOf(interaction),
    }, { uid: interaction.uid, prompt: 'login', csrf: token, username, next: { face: `/interaction/${interaction.uid}/face` } });
  });

  router.post('/interaction/:uid/face', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/face`;
    // The interaction, the username and the flow's rate and lockout checks come before the
    // upload is read: an upload for no sign-in, or from a locked-out client, is never buffered.
    const interaction = await details(ctx, 'login');
    const username = stateOf(interaction).username;
    if (!username) throw new AppError('username_invalid', 'Please enter your username first.', { status: 422 });
    const params = interaction.params as AcrParams;
    const stepUp = interaction.prompt.reasons.some((reason) => STEP_UP_REASONS.has(reason));
    const outcome = await deps.flow.faceSignIn({
      username: readUsername(username),
      frames: framesOf(ctx),
      deviceId: deviceOf(ctx),
      // Whatever the relying party requires that the face alone does not reach (compared by
      // strength, so that a stronger acr added later is never read as "no second factor").
      requireOtp: !satisfies(ACR_FACE, requiredAcr(params)),
      requiredAccountId: stepUp ? interaction.session?.accountId : undefined,
      ...requestContext(ctx, interaction),
    });
    if (outcome.kind === 'done') {
      await finish(ctx, loginResult(outcome.decision, params, deps.clock.now()));
    } else if (outcome.kind === 'totp') {
      await saveState(interaction, { username, totpFor: outcome.accountId, faceAt: deps.clock.now() });
      seeOther(ctx, `/interaction/${interaction.uid}/totp`);
    } else {
      await saveState(interaction, { username, unmetFor: outcome.accountId });
      ctx.status = 403;
      const token = csrf.token(ctx);
      render(ctx, 'unmet.njk', { uid: interaction.uid, csrf: token, client: await clientOf(interaction) }, {
        error: 'unmet_authentication_requirements',
        message: 'This application requires a second factor that your account has not set up.',
        csrf: token,
        next: { unmet: `/interaction/${interaction.uid}/unmet` },
      });
    }
  });

  router.get('/interaction/:uid/totp', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const state = stateOf(interaction);
    if (!state.totpFor) {
      seeOther(ctx, `/interaction/${interaction.uid}`);
      return;
    }
    const token = csrf.token(ctx);
    render(ctx, 'totp.njk', { uid: interaction.uid, csrf: token, username: state.username, client: await clientOf(interaction) }, {
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
    const state = stateOf(interaction);
    if (!state.totpFor || !state.faceAt || deps.clock.now() - state.faceAt > SECOND_FACTOR_WINDOW_MS) {
      ctx.state.retryUrl = `/interaction/${interaction.uid}`;
      throw new AppError('second_factor_expired', 'Too much time passed since your face was matched. Please start again.', { status: 401 });
    }
    const code = (fields.code ?? '').slice(0, 64);
    const decision = await deps.flow.totpSignIn({ accountId: state.totpFor, code, ...requestContext(ctx, interaction) });
    await finish(ctx, loginResult(decision, interaction.params as AcrParams, deps.clock.now()));
  });

  router.post('/interaction/:uid/unmet', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'login');
    if (!stateOf(interaction).unmetFor) throw new AppError('interaction_wrong_step', 'This step is not part of the current sign-in.', { status: 400 });
    await finish(ctx, unmetResult());
  });

  router.get('/interaction/:uid/signup', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const token = csrf.token(ctx);
    render(ctx, 'signup.njk', {
      csrf: token,
      action: `/interaction/${interaction.uid}/signup`,
      frames: deps.captureFrames.enroll,
      client: await clientOf(interaction),
      backUrl: `/interaction/${interaction.uid}`,
    }, { uid: interaction.uid, csrf: token, next: { signup: `/interaction/${interaction.uid}/signup` } });
  });

  router.post('/interaction/:uid/signup', async (ctx) => {
    ctx.state.retryUrl = `/interaction/${ctx.params.uid}/signup`;
    const interaction = await details(ctx, 'login');
    const decision = await deps.flow.signUp({ body: bodyOf(ctx), ...requestContext(ctx, interaction) });
    await finish(ctx, loginResult(decision, {}, deps.clock.now()));
  });

  router.post('/interaction/:uid/confirm', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    const interaction = await details(ctx, 'consent');
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new AppError('interaction_expired', 'Your session has ended. Please sign in again.', { status: 400 });
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new AppError('interaction_expired', 'This consent request has expired.', { status: 400 });
    const { missingOIDCScope = [], missingOIDCClaims = [] } = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missingOIDCScope.length > 0) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims.length > 0) grant.addOIDCClaims(missingOIDCClaims);
    const grantId = await grant.save();
    await finish(ctx, { consent: { grantId } });
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    await parseCheckedForm(ctx, csrf);
    await details(ctx);
    await finish(ctx, abortResult('The user cancelled the sign-in.'));
  });

  router.get('/signup', async (ctx) => {
    const token = csrf.token(ctx);
    render(ctx, 'signup.njk', { csrf: token, action: '/signup', frames: deps.captureFrames.enroll }, { csrf: token, next: { signup: '/signup' } });
  });

  router.post('/signup', async (ctx) => {
    ctx.state.retryUrl = '/signup';
    await deps.flow.signUp({ body: bodyOf(ctx), ip: ctx.ip });
    seeOther(ctx, '/signup/done');
  });

  router.get('/signup/done', async (ctx) => {
    render(ctx, 'signup-done.njk', {}, { status: 'enrolled' });
  });

  return router;
}
