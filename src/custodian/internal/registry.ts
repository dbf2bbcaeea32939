import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { AppError } from '../../shared/index.ts';

/**
 * The custodian's own durable store (SQLite through node:sqlite, in its key directory; never the
 * IdP's database, which a compromised web tier can write):
 * - subjects: every enrolled subject, its active key (sealed), and the hash of the one template
 *   it was activated for. Tickets are issued only for these, bound to that template.
 * - pending: a key made by `register`, waiting for its template (`activate`).
 * - events: what the budgets count (tickets per subject and overall, registrations, forgets).
 *   Durable, so a restart does not refill a budget.
 * The file is opened in exclusive locking mode: a second custodian on the same directory is refused.
 */
export interface ActiveSubject {
  subject: string;
  keyId: Buffer;
  sealedKey: Buffer;
  templateHash: string;
  paramsVersion: string;
  registeredAt: number;
}

export interface PendingKey {
  subject: string;
  keyId: Buffer;
  sealedKey: Buffer;
  paramsVersion: string;
  createdAt: number;
}

export type EventKind = 'ticket' | 'decoy' | 'register' | 'forget' | 'alert';

export interface Registry {
  active(subject: string): ActiveSubject | undefined;
  pending(subject: string): PendingKey | undefined;
  /** Stores a new pending key for the subject (replacing an earlier pending one). */
  putPending(key: PendingKey): void;
  /** Pending -> active (the previous active key is deleted: crypto-shredding of the old template). */
  activate(subject: string, keyId: Buffer, templateHash: string, now: number): boolean;
  /** Deletes the subject's keys; returns whether it had any. */
  forget(subject: string): boolean;
  count(kind: EventKind, subject: string | null, since: number): number;
  /** The times of the latest `limit` events of a kind (and subject), newest first. */
  recent(kind: EventKind, subject: string | null, since: number, limit: number): number[];
  record(kind: EventKind, subject: string | null, at: number): void;
  /** Drops events older than `before` and pending keys older than `pendingBefore`. */
  prune(before: number, pendingBefore: number): void;
  subjects(): number;
  /** Small named values of the store itself (e.g. the sealing-key check). */
  meta(name: string): Buffer | undefined;
  putMeta(name: string, value: Uint8Array): void;
  close(): void;
}

export function openRegistry(keyDir: string): Registry {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(join(keyDir, 'registry.sqlite'));
    // secure_delete: a forgotten or replaced key is overwritten in the file, not just unlinked
    // from the b-tree (crypto-shredding must not leave the old key in free pages).
    db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;');
    // Taking the write lock now makes a second opener fail here, not on its first write.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
  } catch (cause) {
    throw new AppError('custodian_already_running', `The custodian registry in ${keyDir} is locked by another process (or unreadable).`, { cause });
  }
  db.exec(`
    CREATE TABLE IF NOT EXISTS subjects (
      subject TEXT PRIMARY KEY, key_id BLOB NOT NULL, sealed_key BLOB NOT NULL, template_hash TEXT NOT NULL,
      params TEXT NOT NULL, registered_at INTEGER NOT NULL, activated_at INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS pending (
      subject TEXT PRIMARY KEY, key_id BLOB NOT NULL, sealed_key BLOB NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS events (kind TEXT NOT NULL, subject TEXT, at INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
    CREATE INDEX IF NOT EXISTS events_by_subject ON events (kind, subject, at);
    CREATE INDEX IF NOT EXISTS events_by_time ON events (kind, at);
  `);
  const q = {
    active: db.prepare('SELECT subject, key_id, sealed_key, template_hash, params, registered_at FROM subjects WHERE subject = ?'),
    pending: db.prepare('SELECT subject, key_id, sealed_key, params, created_at FROM pending WHERE subject = ?'),
    putPending: db.prepare('INSERT OR REPLACE INTO pending (subject, key_id, sealed_key, params, created_at) VALUES (?, ?, ?, ?, ?)'),
    takePending: db.prepare('DELETE FROM pending WHERE subject = ? AND key_id = ? RETURNING sealed_key, params, created_at'),
    putActive: db.prepare(`INSERT INTO subjects (subject, key_id, sealed_key, template_hash, params, registered_at, activated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (subject) DO UPDATE SET key_id = excluded.key_id, sealed_key = excluded.sealed_key, template_hash = excluded.template_hash,
        params = excluded.params, activated_at = excluded.activated_at`),
    forgetActive: db.prepare('DELETE FROM subjects WHERE subject = ?'),
    forgetPending: db.prepare('DELETE FROM pending WHERE subject = ?'),
    countSubject: db.prepare('SELECT count(*) AS n FROM events WHERE kind = ? AND subject = ? AND at > ?'),
    countAll: db.prepare('SELECT count(*) AS n FROM events WHERE kind = ? AND at > ?'),
    recentSubject: db.prepare('SELECT at FROM events WHERE kind = ? AND subject = ? AND at > ? ORDER BY at DESC LIMIT ?'),
    recentAll: db.prepare('SELECT at FROM events WHERE kind = ? AND at > ? ORDER BY at DESC LIMIT ?'),
    record: db.prepare('INSERT INTO events (kind, subject, at) VALUES (?, ?, ?)'),
    pruneEvents: db.prepare('DELETE FROM events WHERE at < ?'),
    prunePending: db.prepare('DELETE FROM pending WHERE created_at < ?'),
    subjects: db.prepare('SELECT count(*) AS n FROM subjects'),
    meta: db.prepare('SELECT value FROM meta WHERE name = ?'),
    putMeta: db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)'),
  };
  const buffer = (value: unknown) => Buffer.from(value as Uint8Array);
  const transaction = <T>(work: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  };
  let open = true;

  return {
    active(subject) {
      const row = q.active.get(subject) as Record<string, unknown> | undefined;
      return row && {
        subject,
        keyId: buffer(row.key_id),
        sealedKey: buffer(row.sealed_key),
        templateHash: String(row.template_hash),
        paramsVersion: String(row.params),
        registeredAt: Number(row.registered_at),
      };
    },
    pending(subject) {
      const row = q.pending.get(subject) as Record<string, unknown> | undefined;
      return row && { subject, keyId: buffer(row.key_id), sealedKey: buffer(row.sealed_key), paramsVersion: String(row.params), createdAt: Number(row.created_at) };
    },
    putPending(key) {
      q.putPending.run(key.subject, key.keyId, key.sealedKey, key.paramsVersion, key.createdAt);
    },
    activate(subject, keyId, templateHash, now) {
      return transaction(() => {
        const taken = q.takePending.get(subject, keyId) as Record<string, unknown> | undefined;
        if (!taken) return false;
        const previous = q.active.get(subject) as Record<string, unknown> | undefined;
        const registeredAt = previous ? Number(previous.registered_at) : now;
        q.putActive.run(subject, keyId, buffer(taken.sealed_key), templateHash, String(taken.params), registeredAt, now);
        return true;
      });
    },
    forget(subject) {
      return transaction(() => {
        const active = Number(q.forgetActive.run(subject).changes);
        const pending = Number(q.forgetPending.run(subject).changes);
        return active + pending > 0;
      });
    },
    count(kind, subject, since) {
      const row = (subject === null ? q.countAll.get(kind, since) : q.countSubject.get(kind, subject, since)) as { n: number | bigint };
      return Number(row.n);
    },
    recent(kind, subject, since, limit) {
      const rows = (subject === null ? q.recentAll.all(kind, since, limit) : q.recentSubject.all(kind, subject, since, limit)) as Array<{ at: number | bigint }>;
      return rows.map((row) => Number(row.at));
    },
    record(kind, subject, at) {
      q.record.run(kind, subject, at);
    },
    prune(before, pendingBefore) {
      q.pruneEvents.run(before);
      q.prunePending.run(pendingBefore);
    },
    subjects() {
      return Number((q.subjects.get() as { n: number | bigint }).n);
    },
    meta(name) {
      const row = q.meta.get(name) as { value: Uint8Array } | undefined;
      return row && buffer(row.value);
    },
    putMeta(name, value) {
      q.putMeta.run(name, value);
    },
    close() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}
