import { createHmac, randomUUID } from 'node:crypto';
import type { AccountService } from '../accounts/index.ts';
import { normaliseUsername, validateSignup, validateUsername } from '../accounts/index.ts';
import type { Audit } from '../audit/index.ts';
import type { BiometricService, StoredTemplate, VerifyOutcome } from '../biometric/index.ts';
import type { DeviceQueries } from '../db/index.ts';
import type { Totp } from '../mfa/index.ts';
import type { Passkeys, PasskeyUse } from '../passkeys/index.ts';
import { LivenessRefusal } from '../liveness/index.ts';
import { ACR_FACE, amrOf, firstFactors, nextStep, type Acr, type Factor, type FactorDone } from '../policy/index.ts';
import { AppError, isAppError, type Clock } from '../shared/index.ts';
import { FACE_NEW_DEVICE_POLICY, FACE_POLICY, IP_POLICY, TOTP_POLICY, type Throttle, type ThrottleKey } from '../throttle/index.ts';

/**
 * The sign-in and sign-up steps, free of Koa and oidc-provider. Each factor step (face, passkey,
 * one-time code) verifies one factor and says which account it proved; after every step `next`
 * asks the policy table (src/policy) what comes next: another factor, done (with the acr and amr
 * the factors make), or unmet. The router hands over a way to read the request body, and the
 * flow decides when to read it (after the cheap checks: rates and lockouts come before any upload
 * is buffered). Any doubt in the face step is a denial (fail closed); every outcome is audited.
 */

export interface LoginDecision {
  accountId: string;
  acr: Acr;
  amr: string[];
}

interface RequestContext {
  clientId?: string;
  ip?: string;
}

/** What comes after a step: another factor, the sign-in's result, or unmet requirements. */
export type NextStep =
  | { kind: 'ask'; factor: Factor }
  | { kind: 'done'; decision: LoginDecision }
  | { kind: 'unmet' };

export interface UploadedBody {
  fields: Record<string, string | undefined>;
  frames: Uint8Array[];
}

/** What the flow uses of each capability (narrow, so that tests can hand it fakes). */
export interface FlowDeps {
  accounts: Pick<AccountService, 'findByUsername' | 'findById' | 'template' | 'assertUsernameFree' | 'create' | 'replaceTemplate'>;
  biometric: Pick<BiometricService, 'verify' | 'enroll'>;
  audit: Pick<Audit, 'record'>;
  totp: Pick<Totp, 'isEnabled' | 'verify' | 'useRecoveryCode'>;
  throttle: Pick<Throttle, 'hit' | 'reserve' | 'peek'>;
  devices: Pick<DeviceQueries, 'isKnown' | 'remember'>;
  passkeys: Pick<Passkeys, 'has' | 'authenticationOptions' | 'authenticate'>;
  /** Deployment setting: may a passkey alone sign in (PASSKEY_ONLY_ACR)? */
  passkeyOnly?: boolean;
  /** Key of the device-cookie hashes stored in known_devices. */
  deviceKey: Uint8Array;
  clock: Clock;
  /** Request rates per client IP (fixed windows). */
  rates?: Partial<typeof DEFAULT_RATES>;
  /** Failure policies (lockout lengths); the defaults follow NIST SP 800-63B-4. */
  policies?: Partial<typeof DEFAULT_POLICIES>;
}

export const DEFAULT_POLICIES = { face: FACE_POLICY, faceNewDevice: FACE_NEW_DEVICE_POLICY, totp: TOTP_POLICY, passkey: TOTP_POLICY, ip: IP_POLICY };

export const DEFAULT_RATES = {
  /** Camera submissions (each costs ~0.25 s of CPU) per IP per minute. */
  facePerMinute: 30,
  /** Account creations per IP per hour. */
  signupPerHour: 10,
  /** Second-factor submissions per IP per minute. */
  totpPerMinute: 30,
  /** Passkey assertions per IP per minute. */
  passkeyPerMinute: 30,
  /** Face re-enrollments per account per day, and per IP per hour. */
  reenrollPerDay: 3,
  reenrollPerHour: 10,
};

/** A browser counts as the owner's for this long after its last successful sign-in. */
const KNOWN_DEVICE_MS = 90 * 24 * 60 * 60_000;

/** The custodian's registration caps: new enrollments wait (a burst of sign-ups is also an alert there). */
function enrollmentPaused(error: unknown): unknown {
  if (!isAppError(error) || error.code !== 'custodian_rate_limited') return error;
  return new AppError('enrollment_paused', 'New face enrollments are paused for a while. Please try again later.', { status: 429, cause: error });
}

const DENIED_MESSAGE = 'Your face did not match this account. Check the lighting, look at the camera and try again.';
const TOTP_DENIED_MESSAGE = 'That code is not valid or was already used. Enter the current code from your authenticator app, or a recovery code.';

export function createInteractionFlow(deps: FlowDeps) {
  const rates = { ...DEFAULT_RATES, ...deps.rates };
  const policies = { ...DEFAULT_POLICIES, ...deps.policies };
  const ipKey = (prefix: string, ip: string | undefined): ThrottleKey[] =>
    ip ? [{ key: `${prefix}:${ip}`, policy: policies.ip, resetOnSuccess: false }] : [];
  const deviceHash = (deviceId: string) => createHmac('sha256', deps.deviceKey).update(`device:${deviceId}`).digest('base64url');

  async function recordLockout(lock: { lockedMs: number; lockedNow: boolean }, kind: string, accountId: string | null, context: RequestContext) {
    if (!lock.lockedNow) return;
    await deps.audit.record({ type: 'lockout', outcome: kind, accountId, clientId: context.clientId ?? null, ip: context.ip ?? null, detail: { seconds: Math.ceil(lock.lockedMs / 1000) } });
  }

  const waitHint = (lock: { lockedMs: number }) =>
    lock.lockedMs > 0 ? ` Too many failed attempts: please wait ${Math.ceil(lock.lockedMs / 1000)} seconds before the next one.` : '';

  /**
   * The failure budget an attempt draws on (NIST SP 800-63B-4 3.2.3: 5 consecutive failures, then
   * growing delays). A browser that has signed in to this account before has a budget of its
   * own; every other browser shares the username's "new device" budget, whose lockouts grow to a
   * day. So a stranger who fails five times locks out strangers (and the owner's new devices),
   * never the owner's own browser. Keyed by the username as typed, existing or not: a lockout
   * looks the same for every username and reveals nothing.
   */
  async function faceBudget(username: string, accountId: string | undefined, deviceId: string | undefined): Promise<ThrottleKey> {
    const user = normaliseUsername(username);
    const device = deviceHash(deviceId ?? randomUUID());
    // The same query whether or not the username exists (an id that matches nothing otherwise).
    const known = await deps.devices.isKnown(accountId ?? randomUUID(), device, new Date(deps.clock.now() - KNOWN_DEVICE_MS));
    if (accountId && deviceId && known) return { key: `face:${user}:device:${device}`, policy: policies.face };
    return { key: `face:${user}`, policy: policies.faceNewDevice };
  }

  async function enrolledFactors(accountId: string): Promise<Set<Factor>> {
    const [template, otp, passkey] = await Promise.all([deps.accounts.template(accountId), deps.totp.isEnabled(accountId), deps.passkeys.has(accountId)]);
    const factors = new Set<Factor>();
    if (template) factors.add('face');
    if (otp) factors.add('otp');
    if (passkey) factors.add('passkey');
    return factors;
  }

  /**
   * Reads the upload (and, with PAD, checks the burst); a body that cannot be read, or a burst the
   * user can fix (face lost, a turn missing), gives its slot back: it was not an attempt. A burst
   * refused as a presentation attack is a failed attempt (NIST SP 800-63B-4 3.2.3), audited with
   * the check's reason, which the answer itself never names.
   */
  async function readOrRelease<T>(read: () => Promise<T>, reservation: { release(): Promise<void>; fail(): Promise<{ lockedMs: number; lockedNow: boolean }> }, context: { accountId: string | null; kind: string } & RequestContext): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof LivenessRefusal) {
        await deps.audit.record({ type: 'liveness_refused', outcome: error.reason, accountId: context.accountId, clientId: context.clientId ?? null, ip: context.ip ?? null, detail: { counted: error.counts } });
        if (error.counts) {
          const lock = await reservation.fail();
          await recordLockout(lock, context.kind, context.accountId, context);
          if (lock.lockedMs > 0) throw new AppError(error.code, `${error.message}${waitHint(lock)}`, { status: error.status, cause: error });
          throw error;
        }
      }
      await reservation.release().catch(() => undefined);
      throw error;
    }
  }

  return {
    /** The username to prefill when the session's user is asked to authenticate again. */
    async usernameOf(accountId: string | undefined): Promise<string | undefined> {
      return accountId ? (await deps.accounts.findById(accountId))?.username : undefined;
    },

    /**
     * The face step: `username` as typed on the login page, or `accountId` when a passkey has
     * already named the account. The answer for an unknown username is the same denial as for a
     * wrong face, after the same work (a template read, the face work, a match and a custodian
     * round trip against a decoy), so the step does not reveal which usernames exist.
     * `pinnedAccountId` pins a re-authentication (step-up, prompt=login) or a second factor to
     * one account. Returns the account the face proved; `next` says what comes after.
     */
    async faceSignIn(input: { username?: string; accountId?: string; frames: () => Promise<Uint8Array[]>; deviceId?: string; pinnedAccountId?: string } & RequestContext): Promise<{ accountId: string }> {
      if (input.ip) await deps.throttle.hit(`face-rate:${input.ip}`, rates.facePerMinute, 60_000);
      const request = { clientId: input.clientId ?? null, ip: input.ip ?? null };
      const account = input.accountId !== undefined ? await deps.accounts.findById(input.accountId) : await deps.accounts.findByUsername(input.username ?? '');
      const username = input.username ?? account?.username ?? '';
      const budget = await faceBudget(username, account?.id, input.deviceId);
      const reservation = await deps.throttle.reserve([budget, ...ipKey('face-ip', input.ip)]);
      const frames = await readOrRelease(input.frames, reservation, { accountId: account?.id ?? null, kind: 'face', ...input });
      if (frames.length === 0) {
        await reservation.release();
        throw new AppError('no_frames', 'No camera frame was received. Please try again.', { status: 422 });
      }
      let verdict: VerifyOutcome;
      try {
        const pinnedElsewhere = input.pinnedAccountId !== undefined && account?.id !== input.pinnedAccountId;
        const candidate = account && !pinnedElsewhere ? account.id : undefined;
        // The same query for unknown usernames (an id that matches nothing).
        const stored = await deps.accounts.template(candidate ?? randomUUID());
        // A template of a legacy face model that matches is replaced by one of the current model
        // (src/biometric migrate), audited in the same transaction.
        const renew = stored && candidate !== undefined
          ? (template: StoredTemplate, activate: () => Promise<void>) => deps.accounts.replaceTemplate(candidate, template, activate, { type: 'face_migrated', outcome: 'ok', accountId: candidate, ...request, detail: { from: stored.template.modelVersion, to: template.modelVersion } })
          : undefined;
        verdict = await deps.biometric.verify({ accountId: stored ? candidate : undefined, template: stored?.template, frames, renew });
      } catch (error) {
        // Not evaluated (no usable face, custodian or database down...): the attempt does not count.
        await reservation.release().catch(() => undefined);
        if (isAppError(error) && error.status < 500) {
          await deps.audit.record({ type: 'face_refused', outcome: error.code, accountId: account?.id ?? null, ...request });
        }
        if (isAppError(error) && error.code === 'custodian_rate_limited') {
          // The custodian's own budget for this account is spent: the same answer as a lockout.
          throw new AppError('too_many_attempts', 'Too many attempts for this account today. Please try again later.', { status: 429, cause: error });
        }
        throw error;
      }
      if (verdict !== 'match' || !account) {
        const lock = await reservation.fail();
        await deps.audit.record({ type: 'signin', outcome: 'denied', accountId: account?.id ?? null, ...request, detail: { reason: verdict, factor: 'face' } });
        await recordLockout(lock, 'face', account?.id ?? null, input);
        throw new AppError('face_not_matched', `${DENIED_MESSAGE}${waitHint(lock)}`, { status: 401 });
      }
      await reservation.succeed();
      if (input.deviceId) await deps.devices.remember(account.id, deviceHash(input.deviceId));
      return { accountId: account.id };
    },

    /**
     * Before the camera starts: is the face step locked for this username (and browser), and how
     * many failures are left? The same keys as faceSignIn, so it says the same for existing and
     * unknown usernames; nothing is spent.
     */
    async faceAttempts(input: { username?: string; accountId?: string; deviceId?: string; ip?: string }): Promise<{ lockedSeconds: number; remaining: number }> {
      const account = input.accountId !== undefined ? await deps.accounts.findById(input.accountId) : await deps.accounts.findByUsername(input.username ?? '');
      const budget = await faceBudget(input.username ?? account?.username ?? '', account?.id, input.deviceId);
      const state = await deps.throttle.peek([budget, ...ipKey('face-ip', input.ip)]);
      return { lockedSeconds: Math.ceil(state.lockedMs / 1000), remaining: state.remaining };
    },

    /** Options for a passkey assertion bound to this sign-in (`binding`): any passkey, or one account's. */
    async passkeyOptions(input: { binding: string; accountId?: string }) {
      return deps.passkeys.authenticationOptions(input);
    },

    /**
     * The passkey step: a WebAuthn assertion against this sign-in's challenge. Usernameless (the
     * passkey names the account) or after the face (`expectedAccountId`: only that account's
     * passkeys count). Failures count per IP and, once the credential names one, per account.
     */
    async passkeySignIn(input: { binding: string; response: unknown; expectedAccountId?: string } & RequestContext): Promise<PasskeyUse> {
      if (input.ip) await deps.throttle.hit(`passkey-rate:${input.ip}`, rates.passkeyPerMinute, 60_000);
      const keys: ThrottleKey[] = [...ipKey('passkey-ip', input.ip), ...(input.expectedAccountId ? [{ key: `passkey:${input.expectedAccountId}`, policy: policies.passkey }] : [])];
      const reservation = keys.length ? await deps.throttle.reserve(keys) : undefined;
      const context = { clientId: input.clientId ?? null, ip: input.ip ?? null };
      try {
        const use = await deps.passkeys.authenticate(input);
        await reservation?.succeed();
        await deps.audit.record({ type: 'passkey_signin', outcome: 'success', accountId: use.accountId, ...context, detail: { synced: use.backedUp, userVerified: use.userVerified } });
        return use;
      } catch (error) {
        if (isAppError(error) && error.code === 'passkey_invalid') {
          const lock = reservation ? await reservation.fail() : { lockedMs: 0, lockedNow: false };
          await deps.audit.record({ type: 'passkey_signin', outcome: 'denied', accountId: input.expectedAccountId ?? null, ...context });
          await recordLockout(lock, 'passkey', input.expectedAccountId ?? null, input);
        } else {
          await reservation?.release().catch(() => undefined);
        }
        throw error;
      }
    },

    /**
     * The one-time-code step after the face: a 6-digit TOTP code, or one of the recovery codes in
     * its place (RFC 8176 `otp` either way: a recovery code is a one-time password too). A recovery
     * code also stands in for a lost passkey (README, "Passkeys").
     */
    async totpSignIn(input: { accountId: string; code: string } & RequestContext): Promise<{ method: 'totp' | 'recovery_code' }> {
      if (input.ip) await deps.throttle.hit(`totp-rate:${input.ip}`, rates.totpPerMinute, 60_000);
      const reservation = await deps.throttle.reserve([{ key: `totp:${input.accountId}`, policy: policies.totp }, ...ipKey('totp-ip', input.ip)]);
      const code = input.code.trim();
      const viaRecovery = !/^\d{6}$/.test(code);
      let ok: boolean;
      try {
        ok = viaRecovery ? await deps.totp.useRecoveryCode(input.accountId, code) : await deps.totp.verify(input.accountId, code);
      } catch (error) {
        await reservation.release();
        throw error;
      }
      const context = { accountId: input.accountId, clientId: input.clientId ?? null, ip: input.ip ?? null };
      if (!ok) {
        const lock = await reservation.fail();
        await deps.audit.record({ type: 'totp_denied', outcome: 'denied', ...context, detail: { method: viaRecovery ? 'recovery_code' : 'totp' } });
        await recordLockout(lock, 'totp', input.accountId, input);
        throw new AppError('totp_invalid', `${TOTP_DENIED_MESSAGE}${waitHint(lock)}`, { status: 401 });
      }
      await reservation.succeed();
      return { method: viaRecovery ? 'recovery_code' : 'totp' };
    },

    /** The factors an account has set up (the policy table's `enrolled`). */
    enrolledFactors,

    /**
     * After a step: the policy table's answer for this account, what was done and what the
     * relying party accepts. Done and unmet are audited (done with its acr and amr).
     */
    /** The factors a sign-in for this request can begin with (policy firstFactors). */
    startsWith(acceptable: readonly Acr[] | undefined): Set<Factor> {
      return firstFactors(acceptable, deps.passkeyOnly ?? false);
    },

    async next(input: { accountId: string; done: readonly FactorDone[]; acceptable: readonly Acr[] | undefined } & RequestContext): Promise<NextStep> {
      // An operator's lock (src/admin), checked once a factor has proved the account (face or
      // passkey alike), so the answer reveals nothing to someone who only typed the username.
      if ((await deps.accounts.findById(input.accountId))?.locked_at) {
        await deps.audit.record({ type: 'signin', outcome: 'locked', accountId: input.accountId, clientId: input.clientId ?? null, ip: input.ip ?? null });
        throw new AppError('account_locked', 'This account is locked by an operator. Please contact support.', { status: 403 });
      }
      const step = nextStep({ acceptable: input.acceptable, enrolled: await enrolledFactors(input.accountId), done: input.done, passkeyOnly: deps.passkeyOnly ?? false });
      const context = { accountId: input.accountId, clientId: input.clientId ?? null, ip: input.ip ?? null };
      if (step.kind === 'ask') return { kind: 'ask', factor: step.factor };
      if (step.kind === 'unmet') {
        await deps.audit.record({ type: 'signin', outcome: 'unmet', ...context, detail: { factors: input.done.map((d) => d.factor), acceptable: input.acceptable ?? [] } });
        return { kind: 'unmet' };
      }
      await deps.audit.record({ type: 'signin', outcome: 'success', ...context, detail: { acr: step.acr, amr: step.amr } });
      return { kind: 'done', decision: { accountId: input.accountId, acr: step.acr, amr: step.amr } };
    },

    /**
     * Sign-up: the per-IP rate first (before the upload is read), then the form, then the face
     * work, and only then whether the username is free. Taken and free usernames answer the same
     * until a real enrollment has been done, so the "taken" answer costs a face and a rate-limited
     * sign-up: it is not a cheap username oracle.
     */
    /**
     * Whether a username is free, before the camera step. It spends the same per-address budget
     * as a sign-up attempt (one counter), so it answers no faster than sign-up itself would.
     */
    async usernameAvailable(input: { username: string } & RequestContext): Promise<{ username: string; available: boolean }> {
      if (input.ip) await deps.throttle.hit(`signup-rate:${input.ip}`, rates.signupPerHour, 60 * 60_000);
      const username = validateUsername(input.username);
      return { username, available: !(await deps.accounts.findByUsername(username)) };
    },

    async signUp(input: { body: () => Promise<UploadedBody>; rateLimited?: boolean } & RequestContext): Promise<LoginDecision> {
      if (input.ip && input.rateLimited !== false) await deps.throttle.hit(`signup-rate:${input.ip}`, rates.signupPerHour, 60 * 60_000);
      const body = await input.body();
      const form = validateSignup(body.fields);
      const accountId = randomUUID();
      await deps.biometric.enroll({
        accountId,
        frames: body.frames,
        check: () => deps.accounts.assertUsernameFree(form.username),
        store: async (template, activate) => {
          await deps.accounts.create(accountId, form, template, activate, { ip: input.ip, clientId: input.clientId });
        },
      }).catch((error: unknown) => {
        throw enrollmentPaused(error);
      });
      return { accountId, acr: ACR_FACE, amr: amrOf([{ factor: 'face' }]) };
    },

    /**
     * A new template for an existing account (the account page after a fresh sign-in, or an
     * operator after checking the person). Limited per account and per IP: each one registers a
     * key pair at the custodian.
     */
    async reenroll(input: { accountId: string; frames: () => Promise<Uint8Array[]>; actor: 'user' | 'operator' } & RequestContext): Promise<void> {
      if (input.actor === 'user') {
        await deps.throttle.hit(`reenroll-account:${input.accountId}`, rates.reenrollPerDay, 24 * 60 * 60_000);
        if (input.ip) await deps.throttle.hit(`reenroll-rate:${input.ip}`, rates.reenrollPerHour, 60 * 60_000);
      }
      const frames = await input.frames();
      await deps.biometric.enroll({
        accountId: input.accountId,
        frames,
        store: (template, activate) => deps.accounts.replaceTemplate(input.accountId, template, activate),
      }).catch((error: unknown) => {
        throw enrollmentPaused(error);
      });
      await deps.audit.record({
        type: input.actor === 'user' ? 'face_reenrolled' : 'face_reset',
        outcome: 'success',
        accountId: input.accountId,
        ip: input.ip ?? null,
        detail: { actor: input.actor, images: frames.length },
      });
    },
  };
}

export type InteractionFlow = ReturnType<typeof createInteractionFlow>;
