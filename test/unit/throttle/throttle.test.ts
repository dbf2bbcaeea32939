import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThrottle, type FailurePolicy } from '../../../src/throttle/index.ts';
import { testDatabase } from '../../../support/db.ts';

const POLICY: FailurePolicy = { maxFailures: 3, baseLockMs: 30_000, maxLockMs: 100_000 };

/** The throttle's clock: the test moves it (no sleeping for locks to end). */
const clock = { t: Date.UTC(2026, 11, 1, 12), now: () => clock.t };
const advance = (ms: number) => {
  clock.t += ms;
};

describe('attempt throttle in the database', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let throttle: ReturnType<typeof createThrottle>;
  beforeAll(async () => {
    db = await testDatabase();
    throttle = createThrottle({ db: db.knex, clock });
  });
  afterAll(async () => db.close());

  it('reserves exactly the allowance under parallel attempts', async () => {
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => throttle.reserve([{ key: 'k:parallel', policy: POLICY }])));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'too_many_attempts')).toBe(true);
  });

  it('one burst makes one lockout even when its evaluations outlast the lock', async () => {
    const burst = await Promise.all([1, 2, 3].map(() => throttle.reserve([{ key: 'k:burst', policy: POLICY }])));
    const first = await burst[0]!.fail();
    expect(first.lockedNow).toBe(true);
    advance(40_000); // the 30 s lock is over before the other two evaluations end
    const rest = await Promise.all(burst.slice(1).map((r) => r.fail()));
    expect(rest.some((r) => r.lockedNow)).toBe(false);
    const row = await db.knex('auth_throttle').where({ key: 'k:burst' }).first();
    expect(row.lockouts).toBe(1);
  });

  it('after a lock, one more try; its failure doubles the lock; success resets; release gives the slot back', async () => {
    const key = [{ key: 'k:cycle', policy: POLICY }];
    for (let i = 0; i < 3; i += 1) await (await throttle.reserve(key)).fail();
    await expect(throttle.reserve(key)).rejects.toMatchObject({ code: 'too_many_attempts' });
    advance(30_001);
    const retry = await throttle.reserve(key);
    await expect(throttle.reserve(key)).rejects.toMatchObject({ code: 'too_many_attempts' });
    const again = await retry.fail();
    expect(again.lockedNow).toBe(true);
    expect(again.lockedMs).toBe(60_000); // 2 x 30 s
    advance(59_999);
    await expect(throttle.reserve(key)).rejects.toMatchObject({ code: 'too_many_attempts', message: expect.stringContaining('wait 1 seconds') });
    advance(1);
    const ok = await throttle.reserve(key);
    await ok.succeed();
    expect(await db.knex('auth_throttle').where({ key: 'k:cycle' }).first()).toMatchObject({ failures: 0, lockouts: 0, locked_until: null });
    const released = await throttle.reserve(key);
    await released.release();
    expect((await db.knex('auth_throttle').where({ key: 'k:cycle' }).first()).failures).toBe(0);
  });

  it('keys that do not reset on success (client addresses) only give their slot back', async () => {
    const keys = [{ key: 'k:user', policy: POLICY }, { key: 'k:ip', policy: POLICY, resetOnSuccess: false }];
    await (await throttle.reserve(keys)).fail();
    await (await throttle.reserve(keys)).succeed();
    expect((await db.knex('auth_throttle').where({ key: 'k:user' }).first()).failures).toBe(0);
    expect((await db.knex('auth_throttle').where({ key: 'k:ip' }).first()).failures).toBe(1);
  });

  it('sweeps rows that are neither failing nor locked after a day', async () => {
    await (await throttle.reserve([{ key: 'k:stale', policy: POLICY }])).succeed();
    advance(24 * 60 * 60_000 + 1);
    expect(await throttle.sweep()).toBeGreaterThanOrEqual(1);
    expect(await db.knex('auth_throttle').where({ key: 'k:stale' }).first()).toBeUndefined();
  });

  it('counts request rates in fixed windows', async () => {
    for (let i = 0; i < 3; i += 1) await throttle.hit('r:window', 3, 60_000);
    await expect(throttle.hit('r:window', 3, 60_000)).rejects.toMatchObject({ code: 'rate_limited', status: 429, message: expect.stringContaining('60 seconds') });
    advance(60_000);
    await expect(throttle.hit('r:window', 3, 60_000)).resolves.toBeUndefined();
  });
});
