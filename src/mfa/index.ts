import { createHmac, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Db, TotpQueries } from '../db/index.ts';
import type { Sealer } from '../sealing/index.ts';
import { AppError, systemClock, type Clock } from '../shared/index.ts';

/**
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s, what authenticator apps support) with a
 * +-1 step window for clock drift, replay refusal by remembering the last used step (compared
 * and advanced atomically in the database), and ten single-use recovery codes stored as keyed
 * hashes. Secrets are sealed at rest and never logged.
 */

const PERIOD = 30;
const RECOVERY_CODES = 10;
// Crockford-like alphabet without look-alikes; 10 characters = 50 bits per code.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export interface TotpDeps {
  db: Db;
  queries: TotpQueries;
  sealer: Sealer;
  /** Key for recovery-code hashes, so a stolen table cannot be brute-forced offline. */
  pepper: Uint8Array;
  issuer: string;
  clock?: Clock;
}

export interface TotpEnrollment {
  secret: string;
  uri: string;
  qrSvg: string;
}

const sealContext = (accountId: string) => `totp-secret:${accountId}`;

function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < 10; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

export function createTotp(deps: TotpDeps) {
  const clock = deps.clock ?? systemClock;
  /** Keyed hash of a recovery code, given normalised (what is stored and what is looked up). */
  const hash = (accountId: string, normalised: string) =>
    createHmac('sha256', deps.pepper).update(`recovery:${accountId}:${normalised}`).digest('base64url');

  /** Returns the RFC 6238 time step the code belongs to (within +-1 step), or undefined. */
  async function matchStep(secret: string, code: string): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    const epoch = Math.floor(clock.now() / 1000);
    const result = await verify({ secret, token: code, epoch, epochTolerance: PERIOD, period: PERIOD });
    return result.valid ? Math.floor(epoch / PERIOD) + result.delta : undefined;
  }

  async function secretOf(accountId: string) {
    const row = await deps.queries.find(accountId);
    if (!row) return undefined;
    return { row, secret: deps.sealer.open(row.secret_sealed, sealContext(accountId)).toString('utf8') };
  }

  async function issueRecoveryCodes(accountId: string, trx: Db = deps.db): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    await deps.queries.replaceRecoveryCodes(accountId, codes.map((code) => hash(accountId, normaliseRecoveryCode(code))), trx);
    return codes;
  }

  async function isEnabled(accountId: string): Promise<boolean> {
    return Boolean((await deps.queries.find(accountId))?.confirmed_at);
  }

  return {
    /** Whether a confirmed authenticator is set up: one query, for the sign-in path. */
    isEnabled,

    async status(accountId: string): Promise<{ enabled: boolean; recoveryCodesLeft: number }> {
      const enabled = await isEnabled(accountId);
      return { enabled, recoveryCodesLeft: enabled ? await deps.queries.remainingRecoveryCodes(accountId) : 0 };
    },

    /**
     * Starts enrollment: a secret that is inactive until confirmed. A pending one is shown again
     * (the user may have scanned it already; a wrong first code or a reload must not invalidate
     * it) until it is confirmed or cancelled.
     */
    async begin(accountId: string, label: string): Promise<TotpEnrollment> {
      const existing = await secretOf(accountId);
      if (existing?.row.confirmed_at) throw new AppError('totp_already_enabled', 'An authenticator app is already set up. Remove it first.', { status: 409 });
      let secret = existing?.secret;
      if (!secret) {
        secret = generateSecret({ length: 20 });
        const stored = await deps.queries.putPending(accountId, deps.sealer.seal(Buffer.from(secret, 'utf8'), sealContext(accountId)));
        if (!stored) throw new AppError('totp_already_enabled', 'An authenticator app is already set up. Remove it first.', { status: 409 });
      }
      const uri = generateURI({ issuer: deps.issuer, label, secret, period: PERIOD });
      const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { secret, uri, qrSvg };
    },

    /** Drops a pending (unconfirmed) secret; a confirmed authenticator is left alone. */
    async cancel(accountId: string): Promise<void> {
      await deps.queries.deletePending(accountId);
    },

    /** Activates the pending secret with a first valid code; returns the recovery codes (shown once). */
    async confirm(accountId: string, code: string): Promise<string[]> {
      const found = await secretOf(accountId);
      if (!found || found.row.confirmed_at) throw new AppError('totp_not_pending', 'Start the authenticator setup again.', { status: 409 });
      const step = await matchStep(found.secret, code.trim());
      if (step === undefined) throw new AppError('totp_invalid', 'That code is not valid. Enter the current 6-digit code from your app.', { status: 422 });
      return deps.db.transaction(async (trx) => {
        // Only the secret that was just checked is confirmed: if a second "begin" replaced it in
        // the meantime, nothing is activated (the user never saw that one).
        if (!(await deps.queries.claimStep(accountId, step, { confirm: true, sealed: found.row.secret_sealed }, trx))) {
          throw new AppError('totp_invalid', 'That code was already used. Wait for the next one.', { status: 422 });
        }
        return issueRecoveryCodes(accountId, trx);
      });
    },

    /** Verifies a code for sign-in; a code (or an older one) that was already used is refused. */
    async verify(accountId: string, code: string): Promise<boolean> {
      const found = await secretOf(accountId);
      if (!found?.row.confirmed_at) return false;
      const step = await matchStep(found.secret, code.trim());
      if (step === undefined) return false;
      return deps.queries.claimStep(accountId, step, { confirm: false });
    },

    async useRecoveryCode(accountId: string, code: string): Promise<boolean> {
      const normalised = normaliseRecoveryCode(code);
      if (normalised.length !== 10) return false;
      return deps.queries.useRecoveryCode(accountId, hash(accountId, normalised));
    },

    /**
     * New recovery codes (the old ones stop working). They stand in for any second factor that is
     * lost (an authenticator app, a passkey), so `hasSecondFactor` says whether the account has one.
     */
    async regenerateRecoveryCodes(accountId: string, hasSecondFactor?: boolean): Promise<string[]> {
      const status = await deps.queries.find(accountId);
      if (!status?.confirmed_at && !hasSecondFactor) throw new AppError('totp_not_enabled', 'Set up an authenticator app or a passkey first.', { status: 409 });
      return deps.db.transaction((trx) => issueRecoveryCodes(accountId, trx));
    },

    /** Recovery codes for an account that has none left (a first passkey): shown once, or undefined. */
    async issueRecoveryCodesIfNone(accountId: string): Promise<string[] | undefined> {
      if ((await deps.queries.remainingRecoveryCodes(accountId)) > 0) return undefined;
      return deps.db.transaction((trx) => issueRecoveryCodes(accountId, trx));
    },

    async recoveryCodesLeft(accountId: string): Promise<number> {
      return deps.queries.remainingRecoveryCodes(accountId);
    },

    async remove(accountId: string): Promise<void> {
      await deps.queries.delete(accountId);
    },
  };
}

export type Totp = ReturnType<typeof createTotp>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    totp_already_enabled: true;
    totp_invalid: true;
    totp_not_enabled: true;
    totp_not_pending: true;
  }
}
