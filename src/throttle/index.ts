import type { Db } from '../db/index.ts';
import { AppError, systemClock, type Clock } from '../shared/index.ts';

/**
 * Attempt limits in the database, so that every IdP process shares them and parallel requests
 * cannot slip past (each statement below is one atomic row update).
 *
 * Failures (`reserve` / `fail` / `succeed` / `release`): an attempt first reserves a slot, which
 * counts as a failure until proven otherwise; at most `maxFailures` consecutive failures, then a
 * lockout of `baseLockMs`, doubling with every further lockout up to `maxLockMs`. After a lockout
 * one more attempt is allowed, whose failure locks again (NIST SP 800-63B 5.2.2: at most 5
 * consecutive failed biometric attempts, then delays that grow). Success resets the key.
 *
 * Rates (`hit`): a fixed-window counter per key.
 *
 * Time comes from the injected clock (bound into every statement), not the database's now(), so
 * that tests move time instead of sleeping; IdP processes keep their clocks in sync (NTP).
 */
export interface FailurePolicy {
  maxFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

/** A browser that has signed in to the account before: its own budget (see interaction/flow.ts). */
export const FACE_POLICY: FailurePolicy = { maxFailures: 5, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
/**
 * Every other browser, for one username: locks grow from 5 minutes to a day, so strangers get
 * about 13 tries on the first day and one a day after (under the custodian's own per-account
 * budget of 20 a day, which therefore never runs out for the owner because of them).
 */
export const FACE_NEW_DEVICE_POLICY: FailurePolicy = { maxFailures: 5, baseLockMs: 5 * 60_000, maxLockMs: 24 * 60 * 60_000 };
export const TOTP_POLICY: FailurePolicy = { maxFailures: 5, baseLockMs: 30_000, maxLockMs: 60 * 60_000 };
/** Failures from one client IP across all usernames (password-spraying's face analogue). */
export const IP_POLICY: FailurePolicy = { maxFailures: 20, baseLockMs: 60_000, maxLockMs: 60 * 60_000 };

export interface ThrottleKey {
  key: string;
  policy: FailurePolicy;
  /**
   * Default true. False for keys shared by many accounts (a client IP): one success there must
   * not wipe the failures an attacker piled up against other accounts from the same address.
   */
  resetOnSuccess?: boolean;
}

export interface Reservation {
  /**
   * The attempt was evaluated and failed: lock if it was the last allowed. Returns how long the
   * key is now locked (0: not locked) and whether this failure started the lockout.
   */
  fail(): Promise<{ lockedMs: number; lockedNow: boolean }>;
  /** The attempt succeeded: reset the key. */
  succeed(): Promise<void>;
  /** The attempt was not evaluated (no face in the picture, a service down): give the slot back. */
  release(): Promise<void>;
}

interface Row {
  failures: number;
  lockouts: number;
  locked_until: Date | string | null;
}

const rowsOf = (result: unknown): Row[] => (Array.isArray(result) ? result : ((result as { rows?: Row[] }).rows ?? []));

export function createThrottle(deps: { db: Db; clock?: Clock }) {
  const { db } = deps;
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now()).toISOString();

  async function retryAfterMs(key: string): Promise<number> {
    const row = (await db('auth_throttle').where({ key }).first()) as Row | undefined;
    const until = row?.locked_until ? new Date(row.locked_until).getTime() : 0;
    return Math.max(1000, until - clock.now());
  }

  /**
   * Reserves one attempt; returns the key's lockout generation (how many lockouts it has had),
   * or undefined when the key is locked or its allowance is used up.
   */
  async function reserveOne(key: string, policy: FailurePolicy): Promise<number | undefined> {
    const t = now();
    const result = await db.raw(
      `insert into auth_throttle (key, failures, updated_at) values (?, 1, ?::timestamptz)
       on conflict (key) do update set
         failures = case when auth_throttle.locked_until <= ?::timestamptz then ? else auth_throttle.failures + 1 end,
         locked_until = case when auth_throttle.locked_until <= ?::timestamptz then null else auth_throttle.locked_until end,
         updated_at = ?::timestamptz
       where (auth_throttle.locked_until is null and auth_throttle.failures < ?) or auth_throttle.locked_until <= ?::timestamptz
       returning lockouts`,
      [key, t, t, policy.maxFailures, t, t, policy.maxFailures, t],
    );
    const row = rowsOf(result)[0];
    return row ? Number(row.lockouts) : undefined;
  }

  /**
   * Settles a failed attempt (already counted by its reservation): starts a lockout if the count
   * reached the limit and no lockout has started since the attempt was reserved. Several parallel
   * failures of one burst therefore make one lockout, however long their evaluation takes.
   */
  async function fail(key: string, policy: FailurePolicy, generation: number): Promise<{ lockedMs: number; lockedNow: boolean }> {
    const t = now();
    const result = await db.raw(
      `with old as (select key, lockouts from auth_throttle where key = ? for update)
       update auth_throttle t set
         locked_until = case when t.failures >= ? and t.lockouts = ?
           then ?::timestamptz + make_interval(secs => least(?, ? * power(2, t.lockouts))) else t.locked_until end,
         lockouts = case when t.failures >= ? and t.lockouts = ? then t.lockouts + 1 else t.lockouts end,
         updated_at = ?::timestamptz
       from old where t.key = old.key
       returning t.locked_until, t.lockouts, old.lockouts as old_lockouts`,
      [key, policy.maxFailures, generation, t, policy.maxLockMs / 1000, policy.baseLockMs / 1000, policy.maxFailures, generation, t],
    );
    const row = rowsOf(result)[0] as (Row & { old_lockouts: number }) | undefined;
    const lockedMs = row?.locked_until ? Math.max(0, new Date(row.locked_until).getTime() - clock.now()) : 0;
    // This failure started the lockout iff it moved the generation on.
    const lockedNow = row !== undefined && Number(row.old_lockouts) === generation && Number(row.lockouts) === generation + 1;
    return { lockedMs, lockedNow };
  }

  /** Gives back one reserved slot on each key (the attempt did not count as a failure). */
  async function giveBack(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await db('auth_throttle').whereIn('key', keys).update({ failures: db.raw('greatest(failures - 1, 0)') });
  }

  return {
    /**
     * Reserves one attempt on every key (all or nothing). Refused: AppError `too_many_attempts`
     * (429) with the wait, which is the same for existing and unknown usernames.
     */
    async reserve(keys: ThrottleKey[]): Promise<Reservation> {
      const held: Array<ThrottleKey & { generation: number }> = [];
      for (const entry of keys) {
        const generation = await reserveOne(entry.key, entry.policy);
        if (generation === undefined) {
          await giveBack(held.map((h) => h.key));
          const waitMs = await retryAfterMs(entry.key);
          throw new AppError('too_many_attempts', `Too many failed attempts. Please wait ${Math.ceil(waitMs / 1000)} seconds and try again.`, { status: 429 });
        }
        held.push({ ...entry, generation });
      }
      let settled = false;
      const once = () => {
        if (settled) throw new Error('reservation already settled');
        settled = true;
      };
      return {
        async fail() {
          once();
          const locks = await Promise.all(held.map((h) => fail(h.key, h.policy, h.generation)));
          return { lockedMs: Math.max(0, ...locks.map((l) => l.lockedMs)), lockedNow: locks.some((l) => l.lockedNow) };
        },
        async succeed() {
          once();
          const reset = held.filter((h) => h.resetOnSuccess !== false).map((h) => h.key);
          const keep = held.filter((h) => h.resetOnSuccess === false).map((h) => h.key);
          if (reset.length) await db('auth_throttle').whereIn('key', reset).update({ failures: 0, lockouts: 0, locked_until: null, updated_at: now() });
          await giveBack(keep);
        },
        async release() {
          once();
          await giveBack(held.map((h) => h.key));
        },
      };
    },

    /**
     * Where the keys stand, without spending anything: how long the strictest one is locked
     * (0: not locked) and how many failures it still allows (after a lockout, one).
     */
    async peek(keys: ThrottleKey[]): Promise<{ lockedMs: number; remaining: number }> {
      const rows = keys.length ? ((await db('auth_throttle').whereIn('key', keys.map((k) => k.key))) as Array<Row & { key: string }>) : [];
      let lockedMs = 0;
      let remaining = Infinity;
      for (const entry of keys) {
        const row = rows.find((r) => r.key === entry.key);
        const until = row?.locked_until ? new Date(row.locked_until).getTime() : 0;
        if (until > clock.now()) {
          lockedMs = Math.max(lockedMs, until - clock.now());
          remaining = 0;
        } else if (until > 0) {
          remaining = Math.min(remaining, 1);
        } else {
          remaining = Math.min(remaining, entry.policy.maxFailures - Number(row?.failures ?? 0));
        }
      }
      return { lockedMs, remaining: Number.isFinite(remaining) ? Math.max(0, remaining) : 0 };
    },

    /** Counts a request in a fixed window; over `limit` -> AppError `rate_limited` (429). */
    async hit(key: string, limit: number, windowMs: number): Promise<void> {
      const t = now();
      const result = await db.raw(
        `insert into rate_windows (key, count, window_ends) values (?, 1, ?::timestamptz + make_interval(secs => ?))
         on conflict (key) do update set
           count = case when rate_windows.window_ends <= ?::timestamptz then 1 else rate_windows.count + 1 end,
           window_ends = case when rate_windows.window_ends <= ?::timestamptz then ?::timestamptz + make_interval(secs => ?) else rate_windows.window_ends end
         returning count, window_ends`,
        [key, t, windowMs / 1000, t, t, t, windowMs / 1000],
      );
      const row = rowsOf(result)[0] as unknown as { count: number; window_ends: Date | string } | undefined;
      if (row && row.count > limit) {
        const waitMs = Math.max(1000, new Date(row.window_ends).getTime() - clock.now());
        throw new AppError('rate_limited', `Too many requests. Please wait ${Math.ceil(waitMs / 1000)} seconds and try again.`, { status: 429 });
      }
    },

    /** Old rows (no failures, no lock, not touched for a day) are deleted by the sweeper. */
    async sweep(): Promise<number> {
      const t = now();
      const dayAgo = new Date(clock.now() - 24 * 60 * 60_000).toISOString();
      const stale = await db('auth_throttle').where('updated_at', '<', dayAgo).andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<', t)).delete();
      const windows = await db('rate_windows').where('window_ends', '<', t).delete();
      return Number(stale) + Number(windows);
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    rate_limited: true;
    too_many_attempts: true;
  }
}
