import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import knexPackage from 'knex';
import type { Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { isAppError } from '../shared/index.ts';
import { lockDirectory, type DirectoryLock } from './lock.ts';

const { knex } = knexPackage;

interface QueryResult {
  method?: string;
  response?: { rows?: Array<Record<string, unknown>> };
}

/**
 * Makes PGlite answer like pg, so query code is the same for both engines:
 * - knex-pglite 0.14 labels a `del()` query "DEL", so knex's Postgres response handling (which
 *   looks for "DELETE") returns the raw result instead of the affected-row count that pg returns.
 *   Renaming the method keeps `await query.delete()` a number on both engines.
 * - bytea comes back as Uint8Array from PGlite and as Buffer from pg: columns become Buffers.
 */
class PgliteClient extends (ClientPgLite as unknown as new (config: Knex.Config) => { processResponse(obj: QueryResult, runner: unknown): unknown }) {
  override processResponse(obj: QueryResult, runner: unknown): unknown {
    const method = obj.method === 'del' ? 'delete' : obj.method;
    const response = obj.response?.rows ? { ...obj.response, rows: obj.response.rows.map(withBuffers) } : obj.response;
    return super.processResponse({ ...obj, method, response }, runner);
  }
}

/** The row with each Uint8Array column as a Buffer over the same bytes (no copy). */
function withBuffers(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    out[column] = value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
  }
  return out;
}

export type Db = Knex;

/** Where the embedded database of a data directory lives (its lock is this path plus `.lock`). */
export const pgliteDirectory = (dataDir: string) => resolve(dataDir, 'pglite');

const QUIET = { warn() {}, error() {}, deprecate() {}, debug() {} };
const QUERY_TIMEOUT_MS = 5_000;

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent, the embedded PGlite database is used. */
  url: string | undefined;
  /** Where the embedded database lives (DATA_DIR/pglite). Ignored with a URL. */
  dataDir: string;
  /** Embedded only: keep the database in memory (tests). */
  inMemory?: boolean;
  /**
   * Embedded in memory only: a PGlite instance the caller made, closed with the database (tests
   * start one from a migrated data directory image: an initdb per test file costs seconds).
   */
  pglite?: PGlite;
  poolMax?: number;
  /** PostgreSQL only: the schemas to search (tests give each file a private schema). */
  searchPath?: string[];
}

export interface Database {
  readonly knex: Db;
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

/**
 * PostgreSQL through `pg`, or PGlite (the same Postgres, compiled to WASM, in-process) through
 * knex-pglite. Both run the same migrations and the same SQL; PGlite has a single connection,
 * so code must never wait on a second query while holding a transaction.
 */
export function connectDatabase(options: DatabaseOptions): Database {
  if (options.url) {
    const instance = knex({
      client: 'pg',
      // Connection failures surface as errors (503, readiness); knex's console warnings would duplicate them.
      log: QUIET,
      // A database that stops answering without closing connections (frozen, partitioned) must
      // become a 503 in seconds, not a hang: bound connecting, each query on the client side, and
      // each statement on the server side.
      connection: {
        connectionString: options.url,
        application_name: 'faceid-fhe',
        connectionTimeoutMillis: 5_000,
        query_timeout: QUERY_TIMEOUT_MS,
        statement_timeout: QUERY_TIMEOUT_MS - 1_000,
        keepAlive: true,
      },
      pool: { min: 0, max: options.poolMax ?? 10, acquireTimeoutMillis: 5_000 },
      acquireConnectionTimeout: 5_000,
      ...(options.searchPath ? { searchPath: options.searchPath } : {}),
    });
    return { knex: instance, kind: 'postgres', close: () => instance.destroy() };
  }
  let connection: Knex.StaticConnectionConfig = {} as Knex.StaticConnectionConfig;
  let lock: DirectoryLock | undefined;
  if (options.inMemory && options.pglite) {
    // knex-pglite uses the instance it is given and closes it with its pool.
    connection = { pglite: options.pglite } as unknown as Knex.StaticConnectionConfig;
  } else if (!options.inMemory) {
    const dir = pgliteDirectory(options.dataDir);
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    // Before PGlite touches the files: a second process on them would lose writes (see lock.ts).
    lock = lockDirectory(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    connection = { filename: dir };
  }
  const instance = knex({ client: PgliteClient as unknown as typeof ClientPgLite, dialect: 'postgres', connection });
  return {
    knex: instance,
    kind: 'pglite',
    async close() {
      try {
        await instance.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}

// 57014: statement canceled by statement_timeout.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57014', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

/**
 * Whether an error means "the database cannot be reached right now" (connection refused or lost,
 * server shutting down, pool exhausted): those become 503 and recover when it is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; current = (current as { cause?: unknown }).cause, depth += 1) {
    // An error we raised on purpose already says what failed (e.g. custodian_unavailable).
    if (isAppError(current)) return false;
    const e = current as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
    if (e.name === 'KnexTimeoutError') return true;
    if (typeof e.message === 'string' && /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout|^timeout expired$/i.test(e.message)) return true;
  }
  return false;
}
