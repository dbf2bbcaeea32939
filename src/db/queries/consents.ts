import type { Db } from '../connect.ts';

export interface ConsentRow {
  account_id: string;
  client_id: string;
  scopes: string[];
  claims: string[];
  granted_at: Date;
}

const list = (value: unknown): string[] => {
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
};
const toRow = (row: Record<string, unknown>): ConsentRow => ({
  account_id: String(row.account_id),
  client_id: String(row.client_id),
  scopes: list(row.scopes),
  claims: list(row.claims),
  granted_at: new Date(row.granted_at as string),
});

/** Remembered consent per account and client (migration 0007). */
export function createConsentQueries(db: Db) {
  return {
    async find(accountId: string, clientId: string): Promise<ConsentRow | undefined> {
      const row = (await db('consents').where({ account_id: accountId, client_id: clientId }).first()) as Record<string, unknown> | undefined;
      return row ? toRow(row) : undefined;
    },
    /** Adds to what was allowed before (a consent widens; revoking is the way to narrow). */
    async remember(accountId: string, clientId: string, scopes: string[], claims: string[], at: Date): Promise<void> {
      await db.transaction(async (trx) => {
        const before = (await trx('consents').where({ account_id: accountId, client_id: clientId }).forUpdate().first()) as Record<string, unknown> | undefined;
        const merged = {
          scopes: JSON.stringify([...new Set([...(before ? list(before.scopes) : []), ...scopes])].sort()),
          claims: JSON.stringify([...new Set([...(before ? list(before.claims) : []), ...claims])].sort()),
        };
        await trx('consents').insert({ account_id: accountId, client_id: clientId, ...merged, granted_at: at }).onConflict(['account_id', 'client_id']).merge(['scopes', 'claims', 'granted_at']);
      });
    },
    async listFor(accountId: string): Promise<ConsentRow[]> {
      return ((await db('consents').where({ account_id: accountId }).orderBy('granted_at', 'desc')) as Array<Record<string, unknown>>).map(toRow);
    },
    /** Forgets the consent and ends what it allowed: the client's grants, codes and tokens for the account. */
    async revoke(accountId: string, clientId: string): Promise<boolean> {
      return db.transaction(async (trx) => {
        const removed = await trx('consents').where({ account_id: accountId, client_id: clientId }).delete();
        const grants = (await trx('oidc_payloads').select('id').where({ model: 'Grant' }).whereRaw("payload->>'accountId' = ? and payload->>'clientId' = ?", [accountId, clientId])) as Array<{ id: string }>;
        const ids = grants.map((grant) => grant.id);
        if (ids.length) {
          await trx('oidc_payloads').whereIn('grant_id', ids).delete();
          await trx('oidc_payloads').where({ model: 'Grant' }).whereIn('id', ids).delete();
        }
        return Number(removed) > 0 || ids.length > 0;
      });
    },
  };
}

export type ConsentQueries = ReturnType<typeof createConsentQueries>;
