import type { Db } from '../connect.ts';

export interface AccountRow {
  id: string;
  username: string;
  email: string;
  email_verified: boolean;
  name: string;
  biometric_consent_at: Date;
  created_at: Date;
  updated_at: Date;
}

export type NewAccount = Pick<AccountRow, 'id' | 'username' | 'email' | 'email_verified' | 'name' | 'biometric_consent_at'>;

export function createAccountQueries(db: Db) {
  return {
    /** Returns the stored row (with its defaults), so the caller need not read it back. */
    async insert(account: NewAccount, trx: Db = db): Promise<AccountRow> {
      const [row] = await trx<AccountRow>('accounts').insert(account).returning('*');
      return row!;
    },
    async findById(id: string): Promise<AccountRow | undefined> {
      return db<AccountRow>('accounts').where({ id }).first();
    },
    async findByUsername(username: string): Promise<AccountRow | undefined> {
      return db<AccountRow>('accounts').where({ username }).first();
    },
    async list(limit = 100): Promise<AccountRow[]> {
      return db<AccountRow>('accounts').orderBy('created_at', 'asc').limit(limit);
    },
    /** Deletes the account row; templates cascade. Returns whether a row was deleted. */
    async delete(id: string, trx: Db = db): Promise<boolean> {
      return (await trx('accounts').where({ id }).delete()) > 0;
    },
  };
}

export type AccountQueries = ReturnType<typeof createAccountQueries>;
