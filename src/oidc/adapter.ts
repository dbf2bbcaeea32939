import { createHmac } from 'node:crypto';
import type { ClientQueries, OidcPayloadQueries } from '../db/index.ts';
import type { Sealer } from '../sealing/index.ts';
import { systemClock, type Clock } from '../shared/index.ts';

/**
 * oidc-provider's storage adapter contract (one instance per model name) on PostgreSQL / PGlite.
 * Expired rows are invisible at once and swept later; `consumed` is reported as an epoch time so
 * that the provider can detect a replayed authorization code and revoke its grant
 * (RFC 6749, section 4.1.2: a code used twice must be refused and should revoke its tokens).
 *
 * Rows are keyed by a keyed hash (HMAC-SHA256) of the id, never the id itself: for opaque tokens
 * and codes the id IS the credential, so a database reader must not get usable ones (RFC 6819,
 * 5.1.4.1.3: store hashes of tokens). For those models the payload's own copy of the id (`jti`) is
 * not stored either; it is put back from the id the provider looks up with.
 */
interface AdapterDeps {
  payloads: OidcPayloadQueries;
  clients: ClientQueries;
  sealer: Sealer;
  /** Key of the id hashes (the database does not hold it). */
  idKey: Uint8Array;
  clock?: Clock;
}

/** Models whose id is a bearer credential (an access token, a refresh token, a code...). */
const CREDENTIAL_MODELS = new Set([
  'AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'InitialAccessToken', 'RegistrationAccessToken', 'PushedAuthorizationRequest',
]);

type Payload = Record<string, unknown>;

export const clientSecretContext = (clientId: string) => `client-secret:${clientId}`;

export function createAdapterClass(deps: AdapterDeps) {
  const stored = (model: string, id: string) => createHmac('sha256', deps.idKey).update(`oidc:${model}:${id}`).digest('base64url');

  const withState = (record: Awaited<ReturnType<OidcPayloadQueries['find']>>, jti?: string): Payload | undefined => {
    if (!record) return undefined;
    if (record.expiresAt && record.expiresAt.getTime() <= (deps.clock ?? systemClock).now()) return undefined;
    const payload = jti === undefined ? record.payload : { ...record.payload, jti };
    return record.consumedAt ? { ...payload, consumed: Math.floor(record.consumedAt.getTime() / 1000) } : payload;
  };

  return class KnexAdapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed with `npm run cli -- client:add`');
      const { jti: _jti, ...rest } = payload;
      await deps.payloads.upsert(this.model, stored(this.model, id), CREDENTIAL_MODELS.has(this.model) ? rest : payload, expiresIn);
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === 'Client') {
        const row = await deps.clients.find(id);
        if (!row) return undefined;
        const secret = row.secret_sealed ? deps.sealer.open(row.secret_sealed, clientSecretContext(id)).toString('utf8') : undefined;
        return { ...row.metadata, client_id: row.client_id, first_party: row.first_party, ...(secret ? { client_secret: secret } : {}) };
      }
      return withState(await deps.payloads.find(this.model, stored(this.model, id)), CREDENTIAL_MODELS.has(this.model) ? id : undefined);
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      return withState(await deps.payloads.findBy(this.model, 'user_code', userCode));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      return withState(await deps.payloads.findBy(this.model, 'uid', uid));
    }

    async consume(id: string): Promise<void> {
      await deps.payloads.consume(this.model, stored(this.model, id));
    }

    async destroy(id: string): Promise<void> {
      await deps.payloads.destroy(this.model, stored(this.model, id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await deps.payloads.revokeByGrantId(grantId);
    }
  };
}
