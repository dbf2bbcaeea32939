import type { Db } from '../connect.ts';

export interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_sealed: Buffer | null;
  first_party: boolean;
  created_at: Date;
}

export function createClientQueries(db: Db) {
  return {
    async upsert(row: Omit<ClientRow, 'created_at'>, trx: Db = db): Promise<void> {
      await trx('oidc_clients')
        .insert({ ...row, metadata: JSON.stringify(row.metadata) })
        .onConflict('client_id')
        .merge(['metadata', 'secret_sealed', 'first_party']);
    },
    async find(clientId: string): Promise<ClientRow | undefined> {
      return db<ClientRow>('oidc_clients').where({ client_id: clientId }).first();
    },
    async list(): Promise<ClientRow[]> {
      return db<ClientRow>('oidc_clients').orderBy('created_at', 'asc');
    },
    async delete(clientId: string, trx: Db = db): Promise<boolean> {
      return (await trx('oidc_clients').where({ client_id: clientId }).delete()) > 0;
    },
  };
}

export type ClientQueries = ReturnType<typeof createClientQueries>;
