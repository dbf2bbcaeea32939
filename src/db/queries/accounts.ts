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
  /** Set while an operator has locked the account (migration 0009): sign-in is refused. */
  locked_at: Date | null;
  locked_reason: string | null;
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
    /**
     * The operators' user list: usernames or emails starting with `prefix` (case-insensitive, the
     * LIKE wildcards taken literally), in username order, `limit` rows after the username `after`
     * (keyset paging: stable while accounts come and go).
     */
    async search(filter: { prefix?: string; after?: string; limit: number }): Promise<AccountRow[]> {
      const query = db<AccountRow>('accounts').orderBy('username', 'asc').limit(filter.limit);
      if (filter.prefix) {
        const pattern = `${filter.prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query.where((q) => q.whereRaw("username like ? escape '\\'", [pattern]).orWhereRaw("lower(email) like ? escape '\\'", [pattern]));
      }
      if (filter.after) query.where('username', '>', filter.after);
      return query;
    },
    async count(): Promise<{ total: number; locked: number }> {
      const row = (await db('accounts').select(db.raw('count(*)::int as total'), db.raw('count(locked_at)::int as locked')).first()) as { total: number; locked: number };
      return { total: Number(row.total), locked: Number(row.locked) };
    },
    /** Sets (or with null clears) the operator's lock; returns whether the account exists. */
    async setLock(id: string, lock: { reason: string } | null, trx: Db = db): Promise<boolean> {
      const changes = lock ? { locked_at: trx.fn.now(), locked_reason: lock.reason } : { locked_at: null, locked_reason: null };
      return (await trx('accounts').where({ id }).update({ ...changes, updated_at: trx.fn.now() })) > 0;
    },
    /** Deletes the account row; templates cascade. Returns whether a row was deleted. */
    async delete(id: string, trx: Db = db): Promise<boolean> {
      return (await trx('accounts').where({ id }).delete()) > 0;
    },
  };
}

export type AccountQueries = ReturnType<typeof createAccountQueries>;
