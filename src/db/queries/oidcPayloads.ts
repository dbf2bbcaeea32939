import { systemClock, type Clock } from '../../shared/index.ts';
import type { Db } from '../connect.ts';

export interface PayloadRecord {
  payload: Record<string, unknown>;
  expiresAt: Date | null;
  consumedAt: Date | null;
}

interface PayloadRow {
  payload: Record<string, unknown> | string;
  expires_at: Date | string | null;
  consumed_at: Date | string | null;
}

const toDate = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

function toRecord(row: PayloadRow | undefined): PayloadRecord | undefined {
  if (!row) return undefined;
  const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload;
  return { payload, expiresAt: toDate(row.expires_at), consumedAt: toDate(row.consumed_at) };
}

const COLUMNS = ['payload', 'expires_at', 'consumed_at'];

/** Storage for oidc-provider's models (sessions, codes, tokens, grants, interactions...). */
export function createOidcPayloadQueries(db: Db, clock: Clock = systemClock) {
  return {
    async upsert(model: string, id: string, payload: Record<string, unknown>, expiresInSeconds: number | undefined): Promise<void> {
      const expiresAt = expiresInSeconds ? new Date(clock.now() + expiresInSeconds * 1000) : null;
      await db('oidc_payloads')
        .insert({
          model,
          id,
          payload: JSON.stringify(payload),
          grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
          user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
          uid: typeof payload.uid === 'string' ? payload.uid : null,
          expires_at: expiresAt,
        })
        .onConflict(['model', 'id'])
        .merge(['payload', 'grant_id', 'user_code', 'uid', 'expires_at']);
    },
    async find(model: string, id: string): Promise<PayloadRecord | undefined> {
      return toRecord(await db('oidc_payloads').select(COLUMNS).where({ model, id }).first());
    },
    async findBy(model: string, column: 'uid' | 'user_code', value: string): Promise<PayloadRecord | undefined> {
      return toRecord(await db('oidc_payloads').select(COLUMNS).where({ model, [column]: value }).first());
    },
    /** Marks a one-time value (authorization code, refresh token...) as used; first caller wins. */
    async consume(model: string, id: string): Promise<void> {
      await db('oidc_payloads').where({ model, id }).whereNull('consumed_at').update({ consumed_at: new Date(clock.now()) });
    },
    async destroy(model: string, id: string): Promise<void> {
      await db('oidc_payloads').where({ model, id }).delete();
    },
    async revokeByGrantId(grantId: string): Promise<void> {
      await db('oidc_payloads').where({ grant_id: grantId }).delete();
    },
    async deleteExpired(): Promise<number> {
      return db('oidc_payloads').where('expires_at', '<', new Date(clock.now())).delete();
    },
    /** Every grant and session of an account (account deletion). */
    async deleteForAccount(accountId: string, trx: Db = db): Promise<number> {
      return trx('oidc_payloads').whereRaw("payload->>'accountId' = ?", [accountId]).delete();
    },
  };
}

export type OidcPayloadQueries = ReturnType<typeof createOidcPayloadQueries>;
