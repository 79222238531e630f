/**
 * Prints the figures the fault suite recorded in its last run (`.build/fault-results/*.json`) as a
 * markdown table: `npm run build:test && npm run jest -- test/faults`, then
 * `node .build/test/faults/support-report.js`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = new Set(['case', 'title', 'at']);

function cell(value: unknown): string {
  return (typeof value === 'string' ? value : JSON.stringify(value)).replaceAll('|', '\\|');
}

/** One row per recorded result, ordered by case number. */
export function resultsTable(dir: string): string {
  const rows = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>)
    .sort((a, b) => String(a.case).localeCompare(String(b.case), 'en', { numeric: true }));
  const lines = ['| case | outcome measured in the last run |', '| --- | --- |'];
  for (const row of rows) {
    const figures = Object.entries(row)
      .filter(([key]) => !SKIP.has(key))
      .map(([key, value]) => `${key}: ${cell(value)}`)
      .join('; ');
    lines.push(`| ${cell(row.case)} ${cell(row.title)} | ${figures} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = join(process.cwd(), '.build', 'fault-results');
  if (!existsSync(dir)) {
    console.error(`${dir} is missing: run the fault suite first`);
    process.exit(1);
  }
  console.log(resultsTable(dir));
}
