import type { Db } from '../connect.ts';

export type KeyState = 'next' | 'active' | 'retired';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  private_sealed: Buffer;
  state: KeyState;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
}

export function createSigningKeyQueries(db: Db) {
  return {
    /** Serialises key changes across IdP processes sharing one database (held until commit). */
    async lock(trx: Db): Promise<void> {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['faceid-fhe:signing-keys']);
    },
    async list(trx: Db = db): Promise<SigningKeyRow[]> {
      return trx<SigningKeyRow>('signing_keys').orderBy('created_at', 'desc');
    },
    async insert(row: Pick<SigningKeyRow, 'kid' | 'alg' | 'public_jwk' | 'private_sealed' | 'state'>, trx: Db = db): Promise<void> {
      await trx('signing_keys').insert({
        ...row,
        public_jwk: JSON.stringify(row.public_jwk),
        activated_at: row.state === 'active' ? trx.fn.now() : null,
      });
    },
    async setState(kid: string, state: KeyState, trx: Db = db): Promise<void> {
      const stamp = state === 'active' ? { activated_at: trx.fn.now() } : state === 'retired' ? { retired_at: trx.fn.now() } : {};
      await trx('signing_keys').where({ kid }).update({ state, ...stamp });
    },
    async deleteRetiredBefore(cutoff: Date, trx: Db = db): Promise<number> {
      return trx('signing_keys').where('state', 'retired').andWhere('retired_at', '<', cutoff).delete();
    },
  };
}

export type SigningKeyQueries = ReturnType<typeof createSigningKeyQueries>;
