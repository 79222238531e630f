export { percentile } from '../support/stats.js';
/** A goal: the headline value compared with a target. */
export interface Goal {
  op: '<=' | '>=';
  target: number;
  /** How the goal reads in the table, e.g. `≤ 1.00 for every N`. */
  text: string;
}

/** One row of the table and of the JSON. */
export interface FigureRow {
  /** `1`…`7`, `5a`…, `micro`. */
  id: string;
  title: string;
  subject: string;
  /** The number the goal is checked against; always finite (JSON has no Infinity). */
  value: number;
  unit: string;
  /** The value(s) as printed. */
  display: string;
  goal?: Goal;
  /** Baselines are checked against the same goal for contrast; their misses are expected. */
  baseline?: boolean;
  pass?: boolean;
  /** How it was measured, printed under the table. */
  note?: string;
  details?: Record<string, unknown>;
  error?: string;
}

export function withVerdict(row: FigureRow): FigureRow {
  if (!row.goal || row.error) return row;
  const { op, target } = row.goal;
  const pass = op === '<=' ? row.value <= target : row.value >= target;
  return { ...row, pass };
}

function verdict(row: FigureRow): string {
  if (row.error) return 'ERROR';
  if (row.pass === undefined) return '—';
  const word = row.pass ? 'pass' : 'miss';
  return row.baseline ? `(${word})` : `**${word}**`;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

export const TABLE_HEADER = '| # | figure | subject | value | goal | result |';

/** The markdown table: one row per figure row, baselines' verdicts in parentheses. */
export function markdownTable(rows: readonly FigureRow[]): string {
  const lines = [TABLE_HEADER, '| --- | --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    const value = row.error ? `error: ${row.error}` : row.display;
    lines.push(
      `| ${row.id} | ${cell(row.title)} | ${cell(row.subject)} | ${cell(value)} | ${cell(row.goal?.text ?? '—')} | ${verdict(row)} |`,
    );
  }
  return lines.join('\n');
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export const fmt = (value: number, digits = 2): string => value.toFixed(digits);

export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function fmtBytes(bytes: number): string {
  if (bytes < 10_000) return `${Math.round(bytes)} B`;
  if (bytes < 10_000_000) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The rows' notes, one line each (`- 4, this module: …`). */
export function notes(rows: readonly FigureRow[]): string[] {
  return rows.filter((r) => r.note).map((r) => `- ${r.id}, ${r.subject}: ${r.note}`);
}
