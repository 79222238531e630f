import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_HEADER, type FigureRow } from './bench/results.js';
import { FIGURE_ORDER } from './bench/figure-ids.js';

// Keeps `npm run bench` from rotting: the quick run must finish, print every figure and write
// numbers for each. Whether goals are met is the bench's business, not this test's.
const ROOT = process.cwd();
const RUN = join(ROOT, '.build/test/bench/run.js');
const RESULTS = join(ROOT, 'bench-results-quick.json');
const FIGURES = FIGURE_ORDER;
// The change fan-out (8) adds two small fleets, one of the previous release (compiled once).
const RUN_TIMEOUT_MS = 240_000;

interface Run {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

function runQuickBench(): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RUN, '--quick'],
      // On timeout, SIGTERM: the bench exits through its handlers, which kill its children.
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code ?? error.signal ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run bench -- --quick', () => {
  it(
    'runs every figure, prints the table and writes bench-results-quick.json with numbers',
    async () => {
      expect(existsSync(RUN) ? 'built' : `${RUN} is missing: run npm run build:test`).toBe('built');
      rmSync(RESULTS, { force: true });

      const { code, stdout, stderr } = await runQuickBench();
      // The bench's progress log (stderr) tells which part failed.
      expect({ code, log: code === 0 ? '' : stderr.slice(-6_000) }).toEqual({ code: 0, log: '' });

      expect(stdout).toContain(TABLE_HEADER);
      for (const id of FIGURES) {
        expect(stdout).toMatch(new RegExp(`^\\| ${id} \\| `, 'm'));
      }

      const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as {
        mode: string;
        machine: { cpu: string; cores: number; node: string };
        figures: FigureRow[];
      };
      expect(results.mode).toBe('quick');
      expect(results.machine.cores).toBeGreaterThan(0);
      for (const id of FIGURES) {
        const rows = results.figures.filter((row) => row.id === id);
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows) {
          expect({ id, error: row.error, numeric: Number.isFinite(row.value) }).toEqual({
            id,
            error: undefined,
            numeric: true,
          });
        }
      }
    },
    RUN_TIMEOUT_MS + 15_000,
  );
});
