import type { Db } from '../connect.ts';

export interface TotpRow {
  account_id: string;
  secret_sealed: Buffer;
  confirmed_at: Date | null;
  last_used_step: string | number | null;
}

export function createTotpQueries(db: Db) {
  return {
    async find(accountId: string): Promise<TotpRow | undefined> {
      return db<TotpRow>('totp_credentials').where({ account_id: accountId }).first();
    },
    /** A new, unconfirmed secret replaces any earlier unconfirmed one; a confirmed one is kept. */
    async putPending(accountId: string, sealed: Buffer): Promise<boolean> {
      const rows = await db('totp_credentials')
        .insert({ account_id: accountId, secret_sealed: sealed, confirmed_at: null, last_used_step: null })
        .onConflict('account_id')
        .merge(['secret_sealed', 'last_used_step'])
        .whereNull('totp_credentials.confirmed_at')
        .returning('account_id');
      return rows.length > 0;
    },
    /**
     * Records `step` as used if it is newer than the last used one, in one statement: of two
     * parallel requests with the same code exactly one updates the row (RFC 6238, 5.2).
     */
    async claimStep(accountId: string, step: number, options: { confirm: boolean; sealed?: Buffer }, trx: Db = db): Promise<boolean> {
      const query = trx('totp_credentials')
        .where({ account_id: accountId })
        .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', step))
        .update({ last_used_step: step, ...(options.confirm ? { confirmed_at: trx.fn.now() } : {}) });
      if (options.sealed) query.andWhere('secret_sealed', options.sealed);
      if (options.confirm) query.whereNull('confirmed_at');
      else query.whereNotNull('confirmed_at');
      return (await query) === 1;
    },
    async deletePending(accountId: string): Promise<void> {
      await db('totp_credentials').where({ account_id: accountId }).whereNull('confirmed_at').delete();
    },
    async delete(accountId: string, trx: Db = db): Promise<void> {
      await trx('totp_credentials').where({ account_id: accountId }).delete();
      await trx('recovery_codes').where({ account_id: accountId }).delete();
    },
    async replaceRecoveryCodes(accountId: string, hashes: string[], trx: Db = db): Promise<void> {
      await trx('recovery_codes').where({ account_id: accountId }).delete();
      await trx('recovery_codes').insert(hashes.map((code_hash) => ({ account_id: accountId, code_hash })));
    },
    /** Marks a recovery code used; only the first of parallel uses succeeds. */
    async useRecoveryCode(accountId: string, hash: string): Promise<boolean> {
      const updated = await db('recovery_codes').where({ account_id: accountId, code_hash: hash }).whereNull('used_at').update({ used_at: db.fn.now() });
      return updated === 1;
    },
    async remainingRecoveryCodes(accountId: string): Promise<number> {
      const [row] = await db('recovery_codes').where({ account_id: accountId }).whereNull('used_at').count({ n: '*' });
      return Number(row?.n ?? 0);
    },
  };
}

export type TotpQueries = ReturnType<typeof createTotpQueries>;
