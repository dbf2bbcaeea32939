import type { Db } from '../connect.ts';

export interface AuditEventRow {
  id: string;
  at: Date;
  type: string;
  outcome: string;
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface NewAuditEvent {
  type: string;
  outcome: string;
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditFilter {
  type?: string;
  accountId?: string;
  outcome?: string;
  before?: string;
  limit?: number;
}

export function createAuditQueries(db: Db) {
  return {
    /** `trx`: inside the caller's transaction, so the event commits (or not) with what it records. */
    async insert(event: NewAuditEvent, trx: Db = db): Promise<void> {
      await trx('audit_events').insert({
        type: event.type,
        outcome: event.outcome,
        account_id: event.accountId ?? null,
        client_id: event.clientId ?? null,
        ip: event.ip ?? null,
        detail: JSON.stringify(event.detail ?? {}),
      });
    },
    /** After an account is erased its past events keep only a pseudonym (GDPR art. 17). */
    async pseudonymise(accountId: string, pseudonym: string, trx: Db = db): Promise<number> {
      return trx('audit_events').where({ account_id: accountId }).update({ account_id: pseudonym, ip: null });
    },
    async list(filter: AuditFilter = {}): Promise<AuditEventRow[]> {
      const query = db<AuditEventRow>('audit_events').orderBy('id', 'desc').limit(Math.min(filter.limit ?? 100, 500));
      if (filter.type) query.where('type', filter.type);
      if (filter.accountId) query.where('account_id', filter.accountId);
      if (filter.outcome) query.where('outcome', filter.outcome);
      if (filter.before) query.where('id', '<', filter.before);
      return query;
    },
  };
}

export type AuditQueries = ReturnType<typeof createAuditQueries>;
