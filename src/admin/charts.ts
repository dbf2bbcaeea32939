/**
 * Server-rendered SVG bar charts for the operators' dashboard. No chart library and no script:
 * the CSP allows neither inline script nor inline style, so the chart is plain SVG elements whose
 * colours come from classes in style.css, with each bar's count written above it and in a <title>
 * (the browser's own tooltip). Every text that goes into the markup is escaped here.
 */

export interface Bucket {
  /** Start of the bucket, ms since the epoch (UTC). */
  start: number;
  count: number;
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The `size` buckets of `bucketMs` ending with the one that holds `now`, filled from `counts`. */
export function buckets(now: number, bucketMs: number, size: number, counts: Map<number, number> | undefined): Bucket[] {
  const last = Math.floor(now / bucketMs) * bucketMs;
  return Array.from({ length: size }, (_, index) => {
    const start = last - (size - 1 - index) * bucketMs;
    return { start, count: counts?.get(start) ?? 0 };
  });
}

/** Chart units: `wide` for a laptop's card, `narrow` for a phone's (shown by style.css media rules). */
const SIZES = {
  wide: { width: 600, count: 17, denseCount: 14, tick: 17 },
  narrow: { width: 360, count: 13, denseCount: 11, tick: 13 },
} as const;
const HEIGHT = 190;
const TOP = 24; // room for the count above the tallest bar
const BOTTOM = 28; // room for the time labels
const LEFT = 4;
const RIGHT = 4;

/** A round top for the y-axis: 1, 2, 5, 10, 20, 50... at least the largest count. */
function niceMax(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export interface BarChartInput {
  /** Accessible name of the chart ("Sign-ins per hour, last 24 hours"). */
  title: string;
  buckets: Bucket[];
  /** The time label of a bucket (e.g. "14:00" or "03 Nov"). */
  label(start: number): string;
  /** Label every n-th bucket (the last one always). */
  labelEvery: number;
  /** The series' class (its colour in style.css). */
  series: string;
  size?: keyof typeof SIZES;
}

export function barChart(input: BarChartInput): string {
  const size = input.size ?? 'wide';
  const { width: WIDTH, tick } = SIZES[size];
  const n = input.buckets.length;
  const top = niceMax(Math.max(0, ...input.buckets.map((b) => b.count)));
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = (WIDTH - LEFT - RIGHT) / n;
  const barWidth = Math.max(1, slot * 0.72);
  const baseline = TOP + plotHeight;
  // Counts above thin bars would overlap: above 24 bars they shrink a little.
  const fontSize = n > 24 ? SIZES[size].denseCount : SIZES[size].count;
  const parts: string[] = [];
  parts.push(`<svg class="chart chart-${size} ${escapeXml(input.series)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(input.title)}">`);
  parts.push(`<title>${escapeXml(input.title)}</title>`);
  parts.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP}" y2="${TOP}"/>`);
  parts.push(`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${baseline}" y2="${baseline}"/>`);
  input.buckets.forEach((bucket, index) => {
    const x = LEFT + index * slot + (slot - barWidth) / 2;
    const height = bucket.count === 0 ? 0 : Math.max(2, (bucket.count / top) * plotHeight);
    const label = input.label(bucket.start);
    const cx = (x + barWidth / 2).toFixed(1);
    parts.push(`<g><title>${escapeXml(`${label}: ${bucket.count}`)}</title>`);
    // A transparent hit area over the whole slot, so the tooltip works on empty buckets too.
    parts.push(`<rect class="hit" x="${(LEFT + index * slot).toFixed(1)}" y="${TOP}" width="${slot.toFixed(1)}" height="${plotHeight}"/>`);
    if (height > 0) {
      parts.push(`<rect class="bar" x="${x.toFixed(1)}" y="${(baseline - height).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${height.toFixed(1)}"/>`);
      parts.push(`<text class="count" x="${cx}" y="${(baseline - height - 4).toFixed(1)}" font-size="${fontSize}" text-anchor="middle">${bucket.count}</text>`);
    }
    // Every n-th bucket and the last, unless the last is too close to the one before.
    const regular = index % input.labelEvery === 0 && n - 1 - index >= input.labelEvery / 2;
    if (regular || index === n - 1) {
      const anchor = index === 0 ? 'start' : index === n - 1 ? 'end' : 'middle';
      const lx = index === 0 ? LEFT : index === n - 1 ? WIDTH - RIGHT : Number(cx);
      parts.push(`<text class="tick" x="${lx}" y="${HEIGHT - 6}" font-size="${tick}" text-anchor="${anchor}">${escapeXml(label)}</text>`);
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}
