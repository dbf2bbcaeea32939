import { describe, expect, it } from 'vitest';
import type { StoredTemplate, VerifyOutcome } from '../../../src/biometric/index.ts';
import { createInteractionFlow, type FlowDeps } from '../../../src/interaction/index.ts';
import { ACR_FACE, ACR_FACE_OTP } from '../../../src/policy/index.ts';
import { AppError } from '../../../src/shared/index.ts';
import { errorCode } from '../../../support/errors.ts';

/**
 * The sign-in flow on fake ports: each case says what the capabilities answer and what the flow
 * must do (outcome, which failure budget it draws on, what it settles, what it audits).
 */
interface World {
  accounts: Record<string, { id: string; username: string }>;
  templates: Record<string, StoredTemplate>;
  verdict: VerifyOutcome | AppError;
  totp: Set<string>;
  passkeys: Set<string>;
  passkeyResult: { accountId: string; backedUp: boolean; userVerified: boolean } | AppError;
  knownDevices: Set<string>;
  locked: Set<string>;
  log: string[];
}

const template: StoredTemplate = { ciphertext: new Uint8Array(8), heParams: 'p', modelVersion: 'm', keyId: new Uint8Array(16), mac: new Uint8Array(32) };

function makeFlow(world: Partial<World> = {}) {
  const w: World = { accounts: { alice: { id: 'id-alice', username: 'alice' } }, templates: { 'id-alice': template }, verdict: 'match', totp: new Set(), passkeys: new Set(), passkeyResult: { accountId: 'id-alice', backedUp: false, userVerified: true }, knownDevices: new Set(), locked: new Set(), log: [], ...world };
  const deps: FlowDeps = {
    accounts: {
      findByUsername: async (username) => w.accounts[username.trim().toLowerCase()] as never,
      findById: async (id) => Object.values(w.accounts).find((a) => a.id === id) as never,
      template: async (id) => {
        w.log.push(`template:${w.templates[id] ? 'hit' : 'miss'}`);
        return w.templates[id] ? { template: w.templates[id]!, createdAt: new Date() } : undefined;
      },
      assertUsernameFree: async (username) => {
        w.log.push('username-check');
        if (w.accounts[username]) throw new AppError('username_taken', 'taken', { status: 409 });
      },
      create: async (id, form, _template, activate) => {
        await activate();
        w.log.push(`create:${form.username}`);
        return { id } as never;
      },
      replaceTemplate: async (id, _template, activate) => {
        await activate();
        w.log.push(`replace:${id}`);
      },
    },
    biometric: {
      verify: async ({ accountId }) => {
        w.log.push(`verify:${accountId ?? 'none'}`);
        if (w.verdict instanceof AppError) throw w.verdict;
        return w.verdict;
      },
      enroll: async ({ frames, check, store }) => {
        w.log.push(`face-work:${frames.length}`);
        if (w.verdict instanceof AppError) throw w.verdict;
        await check?.();
        await store(template, async () => void w.log.push('activate'));
      },
    },
    audit: { record: async (event) => void w.log.push(`audit:${event.type}:${event.outcome}`) },
    totp: { isEnabled: async (id) => w.totp.has(id), verify: async (_id, code) => code === '123456', useRecoveryCode: async (_id, code) => code === 'abcde-fghij' },
    throttle: {
      hit: async (key) => void w.log.push(`rate:${key.split(':')[0]}`),
      peek: async (keys) => (w.locked.has(keys[0]!.key) ? { lockedMs: 60_000, remaining: 0 } : { lockedMs: 0, remaining: 5 }),
      reserve: async (keys) => {
        const key = keys[0]!.key;
        if (w.locked.has(key)) throw new AppError('too_many_attempts', 'wait', { status: 429 });
        w.log.push(`reserve:${key}`);
        return {
          fail: async () => (w.log.push('fail'), { lockedMs: 0, lockedNow: false }),
          succeed: async () => void w.log.push('succeed'),
          release: async () => void w.log.push('release'),
        };
      },
    },
    passkeys: {
      has: async (id) => w.passkeys.has(id),
      authenticationOptions: async () => ({ challenge: 'c' }) as never,
      authenticate: async (input) => {
        w.log.push(`passkey:${input.expectedAccountId ?? 'any'}`);
        if (w.passkeyResult instanceof AppError) throw w.passkeyResult;
        return { ...w.passkeyResult, credentialId: 'cred-1' };
      },
    },
    devices: {
      isKnown: async (accountId, device) => w.knownDevices.has(`${accountId}:${device}`),
      remember: async () => void w.log.push('remember-device'),
    },
    deviceKey: new Uint8Array(32),
    clock: { now: () => Date.UTC(2026, 11, 1) },
  };
  return { flow: createInteractionFlow(deps), w };
}

const frames = async () => [new Uint8Array(3)];

describe('faceSignIn, then next', () => {
  it.each([
    { name: 'a match, no second factor: done with acr face', world: {}, acceptable: undefined, expect: { kind: 'done', acr: ACR_FACE, amr: ['face'] } },
    { name: 'a match, TOTP set up: on to the code', world: { totp: new Set(['id-alice']) }, acceptable: undefined, expect: { kind: 'ask', factor: 'otp' } },
    { name: 'a match, a passkey set up: on to the passkey', world: { passkeys: new Set(['id-alice']) }, acceptable: undefined, expect: { kind: 'ask', factor: 'passkey' } },
    { name: 'a match, face+TOTP required, no TOTP: unmet', world: {}, acceptable: [ACR_FACE_OTP], expect: { kind: 'unmet' } },
  ] as const)('$name', async ({ world, acceptable, expect: wanted }) => {
    const { flow, w } = makeFlow(world);
    const { accountId } = await flow.faceSignIn({ username: 'alice', frames, ip: '10.0.0.1', deviceId: 'dev-1' });
    expect(accountId).toBe('id-alice');
    expect(w.log).toContain('succeed');
    expect(w.log).toContain('remember-device');
    const next = await flow.next({ accountId, done: [{ factor: 'face' }], acceptable });
    expect(next.kind).toBe(wanted.kind);
    if (next.kind === 'done' && wanted.kind === 'done') expect(next.decision).toEqual({ accountId: 'id-alice', acr: wanted.acr, amr: wanted.amr });
    if (next.kind === 'ask' && wanted.kind === 'ask') expect(next.factor).toBe(wanted.factor);
    if (next.kind !== 'ask') expect(w.log.some((line) => line.startsWith('audit:signin:'))).toBe(true);
  });

  it('a face step named by a passkey looks the account up by id and keeps to it', async () => {
    const { flow, w } = makeFlow();
    expect(await flow.faceSignIn({ accountId: 'id-alice', frames, pinnedAccountId: 'id-alice' })).toEqual({ accountId: 'id-alice' });
    expect(w.log).toContain('verify:id-alice');
    expect(w.log).toContain('reserve:face:alice');
  });

  it.each([
    ['a wrong face', 'alice', 'no_match' as const, {}, 'verify:id-alice'],
    ['an unknown username: the same denial, after the same template query', 'nobody', 'no_template' as const, {}, 'verify:none'],
    ['a re-authentication pinned to another account', 'alice', 'no_template' as const, { pinnedAccountId: 'id-bob' }, 'verify:none'],
  ])('%s -> face_not_matched (401), counted as a failure', async (_case, username, verdict, input, verified) => {
    const { flow, w } = makeFlow({ verdict });
    expect(await errorCode(flow.faceSignIn({ username, frames, ...input }))).toBe('face_not_matched');
    expect(w.log).toContain(verified);
    expect(w.log.filter((line) => line.startsWith('template:'))).toHaveLength(1);
    expect(w.log).toContain('fail');
    expect(w.log).toContain('audit:signin:denied');
  });

  it('draws on the username\'s shared budget, or on a known browser\'s own', async () => {
    const stranger = makeFlow();
    await stranger.flow.faceSignIn({ username: 'Alice', frames, deviceId: 'dev-x' });
    expect(stranger.w.log).toContain('reserve:face:alice');
    const known = makeFlow();
    const device = (await import('node:crypto')).createHmac('sha256', new Uint8Array(32)).update('device:dev-1').digest('base64url');
    known.w.knownDevices.add(`id-alice:${device}`);
    await known.flow.faceSignIn({ username: 'alice', frames, deviceId: 'dev-1' });
    expect(known.w.log).toContain(`reserve:face:alice:device:${device}`);
  });

  it('checks the rate and the lockout before the upload is read, and gives the slot back when it cannot be', async () => {
    const locked = makeFlow({ locked: new Set(['face:alice']) });
    let read = false;
    expect(await errorCode(locked.flow.faceSignIn({ username: 'alice', ip: '10.0.0.1', frames: async () => ((read = true), []) }))).toBe('too_many_attempts');
    expect(read).toBe(false);
    const broken = makeFlow();
    expect(await errorCode(broken.flow.faceSignIn({ username: 'alice', frames: async () => { throw new AppError('upload_interrupted', 'x', { status: 400 }); } }))).toBe('upload_interrupted');
    expect(broken.w.log).toContain('release');
    const empty = makeFlow();
    expect(await errorCode(empty.flow.faceSignIn({ username: 'alice', frames: async () => [] }))).toBe('no_frames');
    expect(empty.w.log).toContain('release');
  });

  it('does not count what was not evaluated (no face, a service down), and says "too many" when the custodian\'s budget is spent', async () => {
    const noFace = makeFlow({ verdict: new AppError('no_face', 'no face', { status: 422 }) });
    expect(await errorCode(noFace.flow.faceSignIn({ username: 'alice', frames }))).toBe('no_face');
    expect(noFace.w.log).toContain('release');
    expect(noFace.w.log).toContain('audit:face_refused:no_face');
    const spent = makeFlow({ verdict: new AppError('custodian_rate_limited', 'spent', { status: 429 }) });
    expect(await errorCode(spent.flow.faceSignIn({ username: 'alice', frames }))).toBe('too_many_attempts');
    const down = makeFlow({ verdict: new AppError('custodian_unavailable', 'down', { status: 503 }) });
    expect(await errorCode(down.flow.faceSignIn({ username: 'alice', frames }))).toBe('custodian_unavailable');
    expect(down.w.log).not.toContain('fail');
  });
});

describe('totpSignIn', () => {
  it.each([
    ['a valid code', '123456', 'totp'],
    ['a recovery code', 'abcde-fghij', 'recovery_code'],
  ])('%s -> the otp factor (then face+TOTP)', async (_case, code, method) => {
    const { flow } = makeFlow({ totp: new Set(['id-alice']) });
    expect(await flow.totpSignIn({ accountId: 'id-alice', code })).toEqual({ method });
    expect(await flow.next({ accountId: 'id-alice', done: [{ factor: 'face' }, { factor: 'otp' }], acceptable: undefined })).toEqual({ kind: 'done', decision: { accountId: 'id-alice', acr: ACR_FACE_OTP, amr: ['face', 'otp', 'mfa'] } });
  });

  it('a wrong code is a counted failure (totp_invalid)', async () => {
    const { flow, w } = makeFlow();
    expect(await errorCode(flow.totpSignIn({ accountId: 'id-alice', code: '000000' }))).toBe('totp_invalid');
    expect(w.log).toContain('fail');
  });
});

describe('passkeySignIn', () => {
  it('a valid assertion names the account; failures count (per IP, and per account when one is expected)', async () => {
    const ok = makeFlow();
    expect(await ok.flow.passkeySignIn({ binding: 'interaction:x', response: {}, ip: '10.0.0.9' })).toMatchObject({ accountId: 'id-alice', userVerified: true });
    expect(ok.w.log).toEqual(['rate:passkey-rate', 'reserve:passkey-ip:10.0.0.9', 'passkey:any', 'succeed', 'audit:passkey_signin:success']);
    const bad = makeFlow({ passkeyResult: new AppError('passkey_invalid', 'no', { status: 401 }) });
    expect(await errorCode(bad.flow.passkeySignIn({ binding: 'interaction:x', response: {}, expectedAccountId: 'id-alice', ip: '10.0.0.9' }))).toBe('passkey_invalid');
    expect(bad.w.log).toContain('fail');
    expect(bad.w.log).toContain('audit:passkey_signin:denied');
    const expired = makeFlow({ passkeyResult: new AppError('challenge_expired', 'old', { status: 400 }) });
    expect(await errorCode(expired.flow.passkeySignIn({ binding: 'interaction:x', response: {}, ip: '10.0.0.9' }))).toBe('challenge_expired');
    expect(expired.w.log).toContain('release');
  });

  it('passkey then face: acr passkey-face, amr hwk + user + face + mfa', async () => {
    const { flow } = makeFlow({ passkeys: new Set(['id-alice']) });
    expect(await flow.next({ accountId: 'id-alice', done: [{ factor: 'passkey', backedUp: false, userVerified: true }], acceptable: undefined })).toEqual({ kind: 'ask', factor: 'face' });
    const done = await flow.next({ accountId: 'id-alice', done: [{ factor: 'passkey', backedUp: false, userVerified: true }, { factor: 'face' }], acceptable: undefined });
    expect(done).toMatchObject({ kind: 'done', decision: { acr: 'urn:faceid-fhe:acr:passkey-face', amr: ['hwk', 'user', 'face', 'mfa'] } });
  });
});

describe('signUp', () => {
  const body = (username: string) => async () => ({ fields: { username, email: `${username}@example.com`, consent: 'yes' }, frames: [new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)] });

  it('does the face work before it looks at the username (no cheap oracle), then creates and activates in one go', async () => {
    const { flow, w } = makeFlow();
    const decision = await flow.signUp({ body: body('newcomer'), ip: '10.0.0.2' });
    expect(decision).toMatchObject({ acr: ACR_FACE, amr: ['face'] });
    expect(w.log).toEqual(['rate:signup-rate', 'face-work:3', 'username-check', 'activate', 'create:newcomer']);
  });

  it('a taken username is told after the face work; a paused custodian is enrollment_paused', async () => {
    const taken = makeFlow();
    expect(await errorCode(taken.flow.signUp({ body: body('alice') }))).toBe('username_taken');
    expect(taken.w.log.indexOf('face-work:3')).toBeLessThan(taken.w.log.indexOf('username-check'));
    const paused = makeFlow({ verdict: new AppError('custodian_rate_limited', 'cap', { status: 429 }) });
    expect(await errorCode(paused.flow.signUp({ body: body('newcomer') }))).toBe('enrollment_paused');
  });

  it('refuses an invalid form before any face work', async () => {
    const { flow, w } = makeFlow();
    expect(await errorCode(flow.signUp({ body: async () => ({ fields: { username: 'x' }, frames: [] }) }))).toBe('signup_invalid');
    expect(w.log).not.toContain('face-work:0');
  });
});

describe('reenroll', () => {
  it('limits users (per account and IP), not operators, and audits who did it', async () => {
    const user = makeFlow();
    await user.flow.reenroll({ accountId: 'id-alice', actor: 'user', ip: '10.0.0.3', frames: async () => [new Uint8Array(1)] });
    expect(user.w.log).toEqual(['rate:reenroll-account', 'rate:reenroll-rate', 'face-work:1', 'activate', 'replace:id-alice', 'audit:face_reenrolled:success']);
    const operator = makeFlow();
    await operator.flow.reenroll({ accountId: 'id-alice', actor: 'operator', frames: async () => [new Uint8Array(1)] });
    expect(operator.w.log).toEqual(['face-work:1', 'activate', 'replace:id-alice', 'audit:face_reset:success']);
  });
});
