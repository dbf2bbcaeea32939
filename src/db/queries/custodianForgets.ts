import type { Db } from '../connect.ts';

/** Subjects whose custodian keys must still be destroyed (the custodian was unreachable at deletion). */
export function createCustodianForgetQueries(db: Db) {
  return {
    async add(subject: string, trx: Db = db): Promise<void> {
      await trx('custodian_forgets').insert({ subject }).onConflict('subject').ignore();
    },
    async done(subject: string): Promise<void> {
      await db('custodian_forgets').where({ subject }).delete();
    },
    async list(limit = 100): Promise<string[]> {
      return (await db('custodian_forgets').orderBy('created_at').limit(limit).select('subject')).map((row: { subject: string }) => row.subject);
    },
  };
}

export type CustodianForgetQueries = ReturnType<typeof createCustodianForgetQueries>;
