import { describe, expect, it } from 'vitest';
import { appearanceStep, DEFAULT_LIVENESS_LIMITS } from '../../../src/liveness/index.ts';

/**
 * The appearance-continuity measure (src/face/appearance.ts layout: mean RGB of the face's
 * centre, then a 6x6 grey grid of its surroundings) on hand-made signatures. The real-data
 * margins (genuine head motion vs photo swaps) are measured in test/integration/liveness.
 */
const signature = (rgb: [number, number, number], grid: (i: number) => number) => Float32Array.from([...rgb, ...Array.from({ length: 36 }, (_, i) => grid(i))]);
const scene = (i: number) => 60 + 40 * Math.sin(i * 1.3) + (i % 6) * 10; // some structure
const limits = DEFAULT_LIVENESS_LIMITS;
const passes = (s: ReturnType<typeof appearanceStep>) => s.context >= limits.minContextCorrelation && s.brightness <= limits.maxBrightnessStep && s.chroma <= limits.maxChromaStep;

describe('appearance continuity between two frames', () => {
  it('the same scene: full correlation, no step', () => {
    const a = signature([150, 110, 90], scene);
    expect(appearanceStep(a, a)).toEqual({ context: expect.closeTo(1, 6), brightness: 0, chroma: 0 });
  });

  it('a camera gain change (everything 20% brighter) is not a cut', () => {
    const a = signature([150, 110, 90], scene);
    const b = signature([180, 132, 108], (i) => scene(i) * 1.2);
    const step = appearanceStep(a, b);
    expect(step.context).toBeCloseTo(1, 6);
    expect(step.chroma).toBeCloseTo(0, 6);
    expect(step.brightness).toBeCloseTo(Math.log(1.2), 6);
    expect(passes(step)).toBe(true);
  });

  it('other surroundings, another light, another colour cast: each alone is a cut', () => {
    const a = signature([150, 110, 90], scene);
    expect(passes(appearanceStep(a, signature([150, 110, 90], (i) => scene(35 - i))))).toBe(false); // the scene mirrored
    expect(passes(appearanceStep(a, signature([75, 55, 45], scene)))).toBe(false); // half as bright a face
    expect(passes(appearanceStep(a, signature([120, 110, 120], scene)))).toBe(false); // a bluer face
  });

  it('a flat grid (nothing to correlate) or a black face is a cut, not a division by zero', () => {
    const a = signature([150, 110, 90], scene);
    expect(passes(appearanceStep(a, signature([150, 110, 90], () => 80)))).toBe(false);
    expect(passes(appearanceStep(a, signature([0, 0, 0], scene)))).toBe(false);
  });
});
