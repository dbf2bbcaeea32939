import type { Db } from '../connect.ts';

export interface TemplateRow {
  account_id: string;
  ciphertext: Buffer;
  he_params: string;
  model_version: string;
  key_id: Buffer | null;
  mac: Buffer | null;
  created_at: Date;
}

export type NewTemplate = Omit<TemplateRow, 'created_at'>;

export function createTemplateQueries(db: Db) {
  return {
    /** Inserts or replaces the account's only template: the old ciphertext is overwritten, never kept. */
    async upsert(template: NewTemplate, trx: Db = db): Promise<void> {
      await trx('face_templates')
        .insert({ ...template, created_at: trx.fn.now() })
        .onConflict('account_id')
        .merge();
    },
    /** Deletes the account's template; returns whether there was one. */
    async remove(accountId: string, trx: Db = db): Promise<boolean> {
      return (await trx('face_templates').where({ account_id: accountId }).delete()) > 0;
    },
    async findByAccount(accountId: string): Promise<TemplateRow | undefined> {
      return db<TemplateRow>('face_templates').where({ account_id: accountId }).first();
    },
  };
}

export type TemplateQueries = ReturnType<typeof createTemplateQueries>;
