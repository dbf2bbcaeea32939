import type { Db } from '../connect.ts';

export interface CredentialRow {
  id: string;
  account_id: string;
  public_key: Buffer;
  counter: number | string;
  transports: string[] | string;
  device_type: string;
  backed_up: boolean;
  aaguid: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

export type NewCredential = Omit<CredentialRow, 'created_at' | 'last_used_at' | 'counter' | 'transports'> & { counter: number; transports: string[] };

/** Passkey credentials and ceremony challenges (migration 0005). */
export function createWebauthnQueries(db: Db) {
  return {
    async insertCredential(row: NewCredential): Promise<void> {
      await db('webauthn_credentials').insert({ ...row, transports: JSON.stringify(row.transports) });
    },
    async credential(id: string): Promise<CredentialRow | undefined> {
      return db<CredentialRow>('webauthn_credentials').where({ id }).first();
    },
    async credentialsOf(accountId: string): Promise<CredentialRow[]> {
      return db<CredentialRow>('webauthn_credentials').where({ account_id: accountId }).orderBy('created_at', 'asc');
    },
    async countOf(accountId: string): Promise<number> {
      const [row] = (await db('webauthn_credentials').where({ account_id: accountId }).count({ n: '*' })) as [{ n: string | number }];
      return Number(row.n);
    },
    /**
     * Records a use: the counter only moves forward (WebAuthn 6.1.1: a counter that does not
     * grow may mean a cloned authenticator), so two parallel uses of one assertion cannot both pass.
     */
    async recordUse(id: string, previous: number, counter: number, backedUp: boolean, at: Date): Promise<boolean> {
      const query = db('webauthn_credentials').where({ id });
      if (counter > 0 || previous > 0) query.andWhere('counter', previous);
      return (await query.update({ counter, backed_up: backedUp, last_used_at: at })) > 0;
    },
    async remove(accountId: string, id: string): Promise<boolean> {
      return (await db('webauthn_credentials').where({ account_id: accountId, id }).delete()) > 0;
    },
    /** Stores the one outstanding challenge of a binding and purpose (a new one replaces it). */
    async putChallenge(binding: string, purpose: string, challenge: string, expiresAt: Date): Promise<void> {
      await db('webauthn_challenges').insert({ binding, purpose, challenge, expires_at: expiresAt }).onConflict(['binding', 'purpose']).merge();
    },
    /** Takes the challenge (single use: it is deleted whatever happens next). */
    async takeChallenge(binding: string, purpose: string): Promise<{ challenge: string; expires_at: Date | string } | undefined> {
      const rows = (await db('webauthn_challenges').where({ binding, purpose }).delete().returning(['challenge', 'expires_at'])) as Array<{ challenge: string; expires_at: Date | string }>;
      return rows[0];
    },
    async deleteExpiredChallenges(before: Date): Promise<number> {
      return db('webauthn_challenges').where('expires_at', '<', before).delete();
    },
  };
}

export type WebauthnQueries = ReturnType<typeof createWebauthnQueries>;
