import type { Clock } from '../src/shared/index.ts';

/**
 * The wall clock plus an offset the test moves: time passes at its real pace (oidc-provider,
 * TLS and the custodian keep their own clocks, so the offset stays small), and a test that needs
 * a lock to lapse or a burst to have been "filmed" moves it instead of sleeping.
 */
export interface TestClock extends Clock {
  advance(ms: number): void;
}

export function createTestClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      if (!(ms >= 0)) throw new Error(`a clock only moves forward (${ms})`);
      offset += ms;
    },
  };
}

/**
 * A PAD burst as a test posts it: the capture times of its frames, and the IdP's clock, moved by
 * the burst's span after the challenge arrives (the server refuses a burst whose capture times
 * span longer than its challenge has existed, as a camera could not have filmed it).
 */
export interface Burst {
  times: number[];
  clock: TestClock;
}
