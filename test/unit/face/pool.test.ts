import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool, type PoolOptions } from '../../../src/face/pool.ts';
import { isAppError } from '../../../src/shared/index.ts';

const pools: WorkerPool[] = [];
function pool(options: Partial<PoolOptions> & { workerData?: unknown } = {}): WorkerPool {
  const p = new WorkerPool({ url: new URL('./fixtures/pool-worker.ts', import.meta.url), size: 2, timeoutMs: 2_000, startTimeoutMs: 10_000, maxQueue: 8, ...options });
  pools.push(p);
  return p;
}
const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isAppError(error) ? `${error.code}/${error.status}` : String(error);
  }
};

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('WorkerPool', () => {
  it('spreads tasks over its workers and transfers buffers', async () => {
    const p = pool();
    await p.ready();
    const buffer = new ArrayBuffer(1024);
    const first = await p.run({ op: 'echo', buffer }, [buffer]);
    expect(first.bytes).toBe(1024);
    expect(buffer.byteLength).toBe(0); // moved, not copied
    const answers = await Promise.all(Array.from({ length: 8 }, () => p.run({ op: 'echo' })));
    expect(new Set(answers.map((a) => a.threadId)).size).toBe(2);
  });

  it('replaces a worker that crashes, and rejects only the task it was running', async () => {
    const p = pool();
    await p.ready();
    const [crash, fine] = await Promise.all([codeOf(p.run({ op: 'crash' })), codeOf(p.run({ op: 'echo' }))]);
    expect(crash).toBe('face_engine_unavailable/503');
    expect(fine).toBe('resolved');
    expect(await codeOf(p.run({ op: 'exit' }))).toBe('face_engine_unavailable/503');
    await p.ready();
    const after = await Promise.all(Array.from({ length: 4 }, () => p.run({ op: 'echo' })));
    expect(after).toHaveLength(4);
    expect(p.stats()).toMatchObject({ size: 2, ready: 2, restarts: 2, down: false });
  });

  it('times out a hung task, terminates its worker and keeps serving', async () => {
    const p = pool({ timeoutMs: 300 });
    await p.ready();
    expect(await codeOf(p.run({ op: 'hang' }))).toBe('face_engine_unavailable/503');
    await expect(p.run({ op: 'echo' })).resolves.toMatchObject({ bytes: 0 });
    expect(p.stats().restarts).toBe(1);
  });

  it('refuses work beyond its queue bound instead of buffering without limit', async () => {
    const p = pool({ size: 1, maxQueue: 2, startDelayMs: 0 } as Partial<PoolOptions>);
    await p.ready();
    const running = [p.run({ op: 'echo' }), p.run({ op: 'echo' }), p.run({ op: 'echo' })];
    expect(await codeOf(p.run({ op: 'echo' }))).toBe('face_engine_unavailable/503');
    await Promise.all(running);
  });

  it('says whether a group fits whole (a burst is queued whole or not at all)', async () => {
    const p = pool({ size: 1, maxQueue: 3, startDelayMs: 0 } as Partial<PoolOptions>);
    await p.ready();
    expect(p.admits(3)).toBe(true);
    expect(p.admits(4)).toBe(false);
    const running = [p.run({ op: 'echo' }), p.run({ op: 'echo' })]; // one running, one queued
    expect(p.admits(2)).toBe(true);
    expect(p.admits(3)).toBe(false);
    await Promise.all(running);
    expect(p.admits(3)).toBe(true);
    await p.close();
    expect(p.admits(1)).toBe(false);
  });

  it('goes down after repeated start failures and answers 503 at once', async () => {
    const p = pool({ workerData: { failStart: true }, maxStartFailures: 3, restartDelayMs: 60_000 });
    expect(await codeOf(p.ready())).toBe('face_engine_unavailable/503');
    expect(await codeOf(p.run({ op: 'echo' }))).toBe('face_engine_unavailable/503');
    expect(p.stats().down).toBe(true);
  });

  it('closes cleanly: queued and running tasks are rejected, later calls refused', async () => {
    const p = pool({ size: 1, workerData: { startDelayMs: 200 } });
    const pending = codeOf(p.run({ op: 'echo' }));
    await p.close();
    expect(await pending).toBe('face_engine_unavailable/503');
    expect(await codeOf(p.run({ op: 'echo' }))).toBe('face_engine_unavailable/503');
  });
});
