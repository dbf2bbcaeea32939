import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLivenessQueries, type Database } from '../../../src/db/index.ts';
import { createLiveness, type Action, type Observation } from '../../../src/liveness/index.ts';
import { testDatabase } from '../../../support/db.ts';

/** The challenge store and the replay guard on a real database; the face engine is a fake port. */
describe('liveness challenges and replay', () => {
  let database: Database;
  let now = Date.UTC(2026, 11, 2, 12);
  // Every reading is 2 s later: a burst seems filmed after its challenge was issued.
  const clock = { now: () => (now += 2_000) };
  const fixed: Action[] = ['turn_left', 'turn_right'];
  const seen: Uint8Array[][] = [];
  const face = { observe: async (frames: Uint8Array[]): Promise<Observation[]> => { seen.push(frames); return frames.map(() => ({ ok: false, code: 'no_face' })); } };
  let liveness: ReturnType<typeof createLiveness>;
  const frames = (n = 10) => Array.from({ length: n }, () => new Uint8Array(randomBytes(64)));
  const times = (n = 10) => Array.from({ length: n }, (_, i) => i * 200);

  beforeAll(async () => {
    database = await testDatabase();
    liveness = createLiveness({ queries: createLivenessQueries(database.knex), face, frameKey: randomBytes(32), clock, generate: () => [...fixed] });
  });
  afterAll(() => database?.close());

  it('issues random-looking, bound challenges with the injected actions and capture advice', async () => {
    const a = await liveness.challenge('interaction:1');
    const b = await liveness.challenge('interaction:1');
    expect(a.id).not.toBe(b.id);
    expect(a.actions).toEqual(fixed);
    expect(a.expiresAt - a.issuedAt).toBeGreaterThanOrEqual(60_000);
    expect(a.capture.minFrames).toBeGreaterThanOrEqual(8);
  });

  it('spends a challenge once, only for its binding, only before it expires', async () => {
    const c = await liveness.challenge('interaction:2');
    await expect(liveness.check({ binding: 'interaction:other', challengeId: c.id, times: times(), frames: frames() })).rejects.toMatchObject({ code: 'challenge_invalid', status: 400 });
    await expect(liveness.check({ binding: 'interaction:2', challengeId: c.id, times: times(), frames: frames() })).rejects.toMatchObject({ code: 'liveness_face_lost', status: 422 });
    await expect(liveness.check({ binding: 'interaction:2', challengeId: c.id, times: times(), frames: frames() })).rejects.toMatchObject({ code: 'challenge_replayed', status: 409 });
    const late = await liveness.challenge('interaction:2');
    now += 5 * 60_000;
    await expect(liveness.check({ binding: 'interaction:2', challengeId: late.id, times: times(), frames: frames() })).rejects.toMatchObject({ code: 'challenge_expired', status: 400 });
    await expect(liveness.check({ binding: 'interaction:2', challengeId: 'not a challenge id!', times: times(), frames: frames() })).rejects.toMatchObject({ code: 'challenge_invalid' });
  });

  it('refuses frames seen in an earlier burst (a replayed burst), before any face work', async () => {
    const burst = frames();
    const first = await liveness.challenge('interaction:3');
    await expect(liveness.check({ binding: 'interaction:3', challengeId: first.id, times: times(), frames: burst })).rejects.toMatchObject({ code: 'liveness_face_lost' });
    const observed = seen.length;
    const second = await liveness.challenge('interaction:4');
    await expect(liveness.check({ binding: 'interaction:4', challengeId: second.id, times: times(), frames: burst })).rejects.toMatchObject({ code: 'liveness_replayed', status: 409, counts: true });
    expect(seen.length).toBe(observed);
    // One old frame among new ones is enough.
    const third = await liveness.challenge('interaction:5');
    await expect(liveness.check({ binding: 'interaction:5', challengeId: third.id, times: times(), frames: [...frames(9), burst[3]!] })).rejects.toMatchObject({ code: 'liveness_replayed' });
  });

  it('refuses a burst of the wrong size or without a time per frame', async () => {
    for (const [n, t] of [[3, 3], [41, 41], [10, 9]] as const) {
      const c = await liveness.challenge('interaction:6');
      await expect(liveness.check({ binding: 'interaction:6', challengeId: c.id, times: times(t), frames: frames(n) })).rejects.toMatchObject({ code: 'bad_frame_count', status: 400 });
    }
  });
});
