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
    /** How many templates there are per face model and HE parameter set (no template content). */
    async countByModel(): Promise<Array<{ modelVersion: string; heParams: string; count: number; newest: Date }>> {
      const rows = (await db('face_templates')
        .select('model_version', 'he_params')
        .count({ count: '*' })
        .max({ newest: 'created_at' })
        .groupBy('model_version', 'he_params')
        .orderBy(['model_version', 'he_params'])) as Array<{ model_version: string; he_params: string; count: string | number; newest: Date | string }>;
      return rows.map((r) => ({ modelVersion: r.model_version, heParams: r.he_params, count: Number(r.count), newest: new Date(r.newest) }));
    },
    async findByAccount(accountId: string): Promise<TemplateRow | undefined> {
      return db<TemplateRow>('face_templates').where({ account_id: accountId }).first();
    },
  };
}

export type TemplateQueries = ReturnType<typeof createTemplateQueries>;
