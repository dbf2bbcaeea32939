import { describe, expect, it } from 'vitest';
import { createTestClock } from '../../../support/clock.ts';

describe('the tests’ movable clock (support/clock.ts)', () => {
  it('runs with the wall clock, moves forward by what the test says, and never back', () => {
    const clock = createTestClock();
    const before = Date.now();
    const start = clock.now();
    expect(start).toBeGreaterThanOrEqual(before);
    clock.advance(61_000);
    expect(clock.now() - start).toBeGreaterThanOrEqual(61_000);
    expect(clock.now() - start).toBeLessThan(61_000 + 5_000);
    expect(() => clock.advance(-1)).toThrow(/forward/);
    expect(() => clock.advance(Number.NaN)).toThrow(/forward/);
  });
});
