import type { Db } from '../connect.ts';
import { toBuffer } from '../connect.ts';

export interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_sealed: Buffer | null;
  first_party: boolean;
  created_at: Date;
}

export function createClientQueries(db: Db) {
  const normalise = (row: ClientRow | undefined): ClientRow | undefined =>
    row && { ...row, secret_sealed: row.secret_sealed ? toBuffer(row.secret_sealed) : null };
  return {
    async upsert(row: Omit<ClientRow, 'created_at'>): Promise<void> {
      await db('oidc_clients')
        .insert({ ...row, metadata: JSON.stringify(row.metadata) })
        .onConflict('client_id')
        .merge(['metadata', 'secret_sealed', 'first_party']);
    },
    async find(clientId: string): Promise<ClientRow | undefined> {
      return normalise(await db<ClientRow>('oidc_clients').where({ client_id: clientId }).first());
    },
    async list(): Promise<ClientRow[]> {
      const rows = await db<ClientRow>('oidc_clients').orderBy('created_at', 'asc');
      return rows.map((row) => normalise(row)!);
    },
    async delete(clientId: string): Promise<boolean> {
      return (await db('oidc_clients').where({ client_id: clientId }).delete()) > 0;
    },
  };
}

export type ClientQueries = ReturnType<typeof createClientQueries>;
