import type { AuditQueries, AuditSeries } from '../db/index.ts';
import { barChart, buckets, type Bucket } from './charts.ts';

/**
 * What the dashboard counts, from the audit events table (src/audit): one series per question an
 * operator asks. Denials are the failed factor attempts and the sign-ins refused for a locked
 * account; `liveness_refused` is the presentation-attack detection's refusal (counted whether or
 * not the deployment records it yet).
 */
export const SERIES: ReadonlyArray<AuditSeries & { label: string }> = [
  { name: 'signins', label: 'Sign-ins', types: ['signin'], outcomes: ['success'] },
  { name: 'denials', label: 'Denials', types: ['signin', 'totp_denied', 'passkey_signin'], outcomes: ['denied', 'locked'] },
  { name: 'lockouts', label: 'Lockouts', types: ['lockout'] },
  { name: 'pad', label: 'Presentation attacks refused', types: ['liveness_refused'] },
];

const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** The two ranges: the last 24 hours by the hour, the last 30 days by the day (UTC). */
const RANGES = [
  { name: 'day', label: 'Last 24 hours', unit: 'hour', bucketMs: HOUR, size: 24, labelEvery: 6, format: (t: number) => `${pad2(new Date(t).getUTCHours())}:00` },
  {
    name: 'month', label: 'Last 30 days', unit: 'day', bucketMs: DAY, size: 30, labelEvery: 7,
    format: (t: number) => `${pad2(new Date(t).getUTCDate())} ${MONTHS[new Date(t).getUTCMonth()]}`,
  },
] as const;

export interface ChartView {
  series: string;
  label: string;
  total: number;
  peak: number;
  /** The chart for a wide card and for a phone's (style.css shows one). */
  svg: string;
  svgNarrow: string;
  rows: Array<{ label: string; count: number }>;
}

export interface RangeView {
  name: string;
  label: string;
  unit: string;
  charts: ChartView[];
}

export async function dashboardCharts(audit: Pick<AuditQueries, 'histogram'>, now: number): Promise<RangeView[]> {
  return Promise.all(RANGES.map(async (range) => {
    const since = new Date(Math.floor(now / range.bucketMs) * range.bucketMs - (range.size - 1) * range.bucketMs);
    const counts = await audit.histogram({ since, bucketMs: range.bucketMs, series: [...SERIES] });
    const charts = SERIES.map((series) => {
      const filled: Bucket[] = buckets(now, range.bucketMs, range.size, counts.get(series.name));
      const total = filled.reduce((sum, b) => sum + b.count, 0);
      const chart = { title: `${series.label} per ${range.unit}, ${range.label.toLowerCase()}: ${total}`, buckets: filled, label: range.format, labelEvery: range.labelEvery, series: series.name };
      return {
        series: series.name,
        label: series.label,
        total,
        peak: Math.max(0, ...filled.map((b) => b.count)),
        svg: barChart({ ...chart, size: 'wide' }),
        svgNarrow: barChart({ ...chart, size: 'narrow', labelEvery: range.labelEvery * 2 }),
        rows: filled.map((b) => ({ label: range.format(b.start), count: b.count })).reverse(),
      };
    });
    return { name: range.name, label: range.label, unit: range.unit, charts };
  }));
}
