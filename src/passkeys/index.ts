import { createHmac } from 'node:crypto';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { CredentialRow, WebauthnQueries } from '../db/index.ts';
import { AppError, systemClock, type Clock } from '../shared/index.ts';

/**
 * Passkeys (WebAuthn Level 3) with @simplewebauthn/server: registration from the account page,
 * assertion at sign-in (usernameless: the passkey names the account; or as the second factor
 * after the face). Discoverable credentials, user verification preferred, attestation `none`
 * (we do not restrict authenticator models). Every challenge is single-use, bound to what it is
 * for (`binding`: an interaction, an account page session), and expires; the signature counter
 * and the backup flags are kept (WebAuthn 6.1.1, 6.1.3).
 */
export interface PasskeyConfig {
  /** WebAuthn RP ID: the issuer's host name by default (a registrable domain; never an IP address). */
  rpId: string;
  rpName: string;
  /** Origins ceremonies may come from (the issuer's origin by default). */
  origins: readonly string[];
}

export interface PasskeysDeps {
  queries: WebauthnQueries;
  config: PasskeyConfig;
  /** Key for the user handles the authenticator stores (never the account id itself). */
  userHandleKey: Uint8Array;
  clock?: Clock;
}

export interface PasskeyUse {
  accountId: string;
  credentialId: string;
  /** Synced / backed up (a software key, amr swk) or bound to one device (hwk). */
  backedUp: boolean;
  /** The authenticator verified the user (PIN or biometric). */
  userVerified: boolean;
}

export interface PasskeyInfo {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  synced: boolean;
}

/** Ceremonies must finish within this (WebAuthn's own default timeout is similar). */
const CHALLENGE_TTL_MS = 5 * 60_000;

const invalid = (why: string, cause?: unknown) => new AppError('passkey_invalid', `That passkey could not be used (${why}). Please try again.`, { status: 401, cause });

export function createPasskeys(deps: PasskeysDeps) {
  const { queries, config } = deps;
  const clock = deps.clock ?? systemClock;
  const userHandle = (accountId: string) => new Uint8Array(createHmac('sha256', deps.userHandleKey).update(`webauthn-user:${accountId}`).digest());

  async function take(binding: string, purpose: 'registration' | 'authentication'): Promise<string> {
    const stored = await queries.takeChallenge(binding, purpose);
    if (!stored || new Date(stored.expires_at).getTime() <= clock.now()) {
      throw new AppError('challenge_expired', 'This passkey request has expired or was already used. Please try again.', { status: 400 });
    }
    return stored.challenge;
  }

  const info = (row: CredentialRow): PasskeyInfo => ({ id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at, synced: row.backed_up || row.device_type === 'multiDevice' });

  return {
    config,

    async has(accountId: string): Promise<boolean> {
      return (await queries.countOf(accountId)) > 0;
    },

    async list(accountId: string): Promise<PasskeyInfo[]> {
      return (await queries.credentialsOf(accountId)).map(info);
    },

    remove: (accountId: string, credentialId: string) => queries.remove(accountId, credentialId),

    async registrationOptions(input: { binding: string; accountId: string; username: string; displayName: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await queries.credentialsOf(input.accountId);
      const options = await generateRegistrationOptions({
        rpName: config.rpName,
        rpID: config.rpId,
        userName: input.username,
        userDisplayName: input.displayName,
        userID: userHandle(input.accountId),
        attestationType: 'none',
        excludeCredentials: existing.map((row) => ({ id: row.id, transports: parseTransports(row.transports) })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
        timeout: CHALLENGE_TTL_MS,
      });
      await queries.putChallenge(input.binding, 'registration', options.challenge, new Date(clock.now() + CHALLENGE_TTL_MS));
      return options;
    },

    async register(input: { binding: string; accountId: string; response: unknown; name: string }): Promise<PasskeyInfo> {
      const expectedChallenge = await take(input.binding, 'registration');
      let verified;
      try {
        verified = await verifyRegistrationResponse({
          response: input.response as RegistrationResponseJSON,
          expectedChallenge,
          expectedOrigin: [...config.origins],
          expectedRPID: config.rpId,
          requireUserVerification: false,
        });
      } catch (cause) {
        throw invalid('the registration did not verify', cause);
      }
      if (!verified.verified) throw invalid('the registration did not verify');
      const { credential, credentialDeviceType, credentialBackedUp, aaguid } = verified.registrationInfo;
      if (await queries.credential(credential.id)) throw new AppError('passkey_exists', 'This passkey is already registered.', { status: 409 });
      const name = input.name.trim().slice(0, 60) || 'Passkey';
      await queries.insertCredential({
        id: credential.id,
        account_id: input.accountId,
        public_key: Buffer.from(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? [],
        device_type: credentialDeviceType,
        backed_up: credentialBackedUp,
        aaguid,
        name,
      });
      return info((await queries.credential(credential.id))!);
    },

    /** Options for an assertion: any discoverable passkey (usernameless), or those of one account. */
    async authenticationOptions(input: { binding: string; accountId?: string }): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = input.accountId ? (await queries.credentialsOf(input.accountId)).map((row) => ({ id: row.id, transports: parseTransports(row.transports) })) : undefined;
      const options = await generateAuthenticationOptions({ rpID: config.rpId, userVerification: 'preferred', timeout: CHALLENGE_TTL_MS, ...(allow ? { allowCredentials: allow } : {}) });
      await queries.putChallenge(input.binding, 'authentication', options.challenge, new Date(clock.now() + CHALLENGE_TTL_MS));
      return options;
    },

    /**
     * Verifies an assertion against the binding's challenge (spent either way). A credential we do
     * not know, another account's credential when one is expected, a wrong origin or RP ID, a bad
     * signature or a counter that does not move forward: passkey_invalid.
     */
    async authenticate(input: { binding: string; response: unknown; expectedAccountId?: string }): Promise<PasskeyUse> {
      const expectedChallenge = await take(input.binding, 'authentication');
      const response = input.response as AuthenticationResponseJSON;
      const id = typeof response?.id === 'string' ? response.id : '';
      const row = id ? await queries.credential(id) : undefined;
      if (!row) throw invalid('unknown passkey');
      if (input.expectedAccountId !== undefined && row.account_id !== input.expectedAccountId) throw invalid('a passkey of another account');
      const previous = Number(row.counter);
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: [...config.origins],
          expectedRPID: config.rpId,
          credential: { id: row.id, publicKey: new Uint8Array(row.public_key), counter: previous, transports: parseTransports(row.transports) },
          requireUserVerification: false,
        });
      } catch (cause) {
        throw invalid('the assertion did not verify', cause);
      }
      if (!verified.verified) throw invalid('the assertion did not verify');
      const { newCounter, credentialBackedUp, userVerified } = verified.authenticationInfo;
      if (!(await queries.recordUse(row.id, previous, newCounter, credentialBackedUp, new Date(clock.now())))) throw invalid('the signature counter did not move forward');
      return { accountId: row.account_id, credentialId: row.id, backedUp: credentialBackedUp || row.device_type === 'multiDevice', userVerified };
    },
  };
}

function parseTransports(value: string[] | string): string[] {
  const list = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
}

export type Passkeys = ReturnType<typeof createPasskeys>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    passkey_invalid: true;
    passkey_exists: true;
    challenge_expired: true;
  }
}
