import type { Knex } from 'knex';
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
  /** Events with a larger id (the page before, in the operators' paging); still newest first. */
  after?: string;
  /** Events at or after `since` and before `until`. */
  since?: Date;
  until?: Date;
  limit?: number;
}

/** One series of the operators' dashboard: events of these types (and outcomes, if given). */
export interface AuditSeries {
  name: string;
  types: string[];
  outcomes?: string[];
}

function filtered<Q extends Knex.QueryBuilder>(query: Q, filter: AuditFilter): Q {
  if (filter.type) query.where('type', filter.type);
  if (filter.accountId) query.where('account_id', filter.accountId);
  if (filter.outcome) query.where('outcome', filter.outcome);
  if (filter.since) query.where('at', '>=', filter.since);
  if (filter.until) query.where('at', '<', filter.until);
  return query;
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
      // Paging towards newer events reads upwards from `after`, then is turned newest first.
      const upwards = filter.after !== undefined && filter.before === undefined;
      const query = db<AuditEventRow>('audit_events').orderBy('id', upwards ? 'asc' : 'desc').limit(Math.min(filter.limit ?? 100, 500));
      filtered(query, filter);
      if (filter.before) query.where('id', '<', filter.before);
      if (filter.after) query.where('id', '>', filter.after);
      const rows = await query;
      return upwards ? rows.reverse() : rows;
    },
    /** How many events match (the filter without its page position). */
    async count(filter: AuditFilter = {}): Promise<number> {
      const row = (await filtered(db('audit_events'), filter).count({ n: '*' }).first()) as { n: string | number } | undefined;
      return Number(row?.n ?? 0);
    },
    /** When each of these accounts last had an event of this type and outcome (the operators' user list). */
    async lastAt(accountIds: string[], type: string, outcome: string): Promise<Map<string, Date>> {
      if (accountIds.length === 0) return new Map();
      const rows = (await db('audit_events').select('account_id').max({ at: 'at' }).whereIn('account_id', accountIds).where({ type, outcome }).groupBy('account_id')) as Array<{ account_id: string; at: Date }>;
      return new Map(rows.map((row) => [row.account_id, new Date(row.at)]));
    },
    /** The distinct values of a column, for the operators' filter select boxes. */
    async distinct(column: 'type' | 'outcome'): Promise<string[]> {
      const rows = (await db('audit_events').distinct(column).orderBy(column).limit(500)) as Array<Record<string, string>>;
      return rows.map((row) => row[column]!);
    },
    /**
     * Counts per series and per time bucket since `since`: buckets of `bucketMs` aligned on the
     * Unix epoch (so hours and days are UTC hours and days), keyed by their start in ms.
     */
    async histogram(input: { since: Date; bucketMs: number; series: AuditSeries[] }): Promise<Map<string, Map<number, number>>> {
      const seconds = Math.round(input.bucketMs / 1000);
      const result = new Map<string, Map<number, number>>();
      for (const series of input.series) {
        const query = db('audit_events')
          .select(db.raw('floor(extract(epoch from at) / ?)::bigint as bucket', [seconds]))
          .count({ n: '*' })
          .where('at', '>=', input.since)
          .whereIn('type', series.types)
          .groupBy('bucket');
        if (series.outcomes) query.whereIn('outcome', series.outcomes);
        const rows = (await query) as Array<{ bucket: string | number; n: string | number }>;
        result.set(series.name, new Map(rows.map((row) => [Number(row.bucket) * seconds * 1000, Number(row.n)])));
      }
      return result;
    },
  };
}

export type AuditQueries = ReturnType<typeof createAuditQueries>;
