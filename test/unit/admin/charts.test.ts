import { describe, expect, it } from 'vitest';
import { barChart, buckets } from '../../../src/admin/charts.ts';

const HOUR = 3600_000;

describe('dashboard charts', () => {
  it('makes the buckets that end with the one holding now, UTC-aligned, filled from the counts', () => {
    const now = Date.UTC(2026, 0, 2, 13, 45);
    const filled = buckets(now, HOUR, 24, new Map([[Date.UTC(2026, 0, 2, 13), 4], [Date.UTC(2026, 0, 1, 14), 2], [Date.UTC(2026, 0, 1, 13), 99]]));
    expect(filled).toHaveLength(24);
    expect(filled[0]).toEqual({ start: Date.UTC(2026, 0, 1, 14), count: 2 });
    expect(filled[23]).toEqual({ start: Date.UTC(2026, 0, 2, 13), count: 4 });
    // The bucket before the range is not shown.
    expect(filled.reduce((sum, b) => sum + b.count, 0)).toBe(6);
  });

  it('draws one bar per non-empty bucket with its count written above it and in its tooltip', () => {
    const svg = barChart({ title: 'Sign-ins', buckets: [{ start: 0, count: 0 }, { start: HOUR, count: 7 }, { start: 2 * HOUR, count: 3 }], label: (t) => `h${t / HOUR}`, labelEvery: 1, series: 'signins' });
    expect(svg.match(/class="bar"/g)).toHaveLength(2);
    expect(svg).toContain('<text class="count"');
    expect(svg).toContain('>7</text>');
    expect(svg).toContain('<title>h1: 7</title>');
    expect(svg).toContain('<title>h0: 0</title>');
    // The tallest bar reaches the top of a round scale (7 -> 10): 70% of the plot.
    const heights = [...svg.matchAll(/class="bar"[^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights[0]! / heights[1]!).toBeCloseTo(7 / 3, 1);
    expect(svg).not.toMatch(/style=|<script/);
  });

  it('escapes every text it writes', () => {
    const svg = barChart({ title: '<script>"x"</script>', buckets: [{ start: 0, count: 1 }], label: () => '<b>&', labelEvery: 1, series: 'a" onload="x' });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).not.toContain('" onload="');
    expect(svg).toContain('&#60;script&#62;');
  });

  it('does not write the last label over the one before it', () => {
    const svg = barChart({ title: 't', buckets: Array.from({ length: 30 }, (_, i) => ({ start: i, count: 0 })), label: (t) => `d${t}`, labelEvery: 7, series: 's' });
    const ticks = [...svg.matchAll(/class="tick"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(ticks).toEqual(['d0', 'd7', 'd14', 'd21', 'd29']);
  });
});
