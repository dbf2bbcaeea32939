/** Small statistics and markdown helpers shared by the benchmarks. */

/** The p-th percentile (0..100) by nearest rank on a sorted copy. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs `fn` `warmup` times unmeasured, then `runs` times; returns the durations in ms. */
export function timeRuns(runs: number, fn: () => void, warmup = Math.min(20, runs)): number[] {
  for (let i = 0; i < warmup; i += 1) fn();
  const durations: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    fn();
    durations.push(performance.now() - start);
  }
  return durations;
}

export type Cell = string | number;

export interface Table {
  title?: string;
  headers: string[];
  rows: Cell[][];
  notes?: string[];
}

function formatCell(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (!Number.isFinite(cell)) return String(cell);
  if (Number.isInteger(cell)) return cell.toLocaleString('en-US');
  return Math.abs(cell) >= 100 ? cell.toFixed(0) : Math.abs(cell) >= 1 ? cell.toFixed(2) : cell.toFixed(3);
}

/** A GitHub-flavoured markdown table. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map(formatCell).join(' | ')} |`);
  return lines.join('\n');
}

export function renderTable(table: Table): string {
  const parts = [];
  if (table.title) parts.push(`### ${table.title}`, '');
  parts.push(formatTable(table.headers, table.rows));
  if (table.notes?.length) parts.push('', ...table.notes.map((note) => `- ${note}`));
  return parts.join('\n');
}
