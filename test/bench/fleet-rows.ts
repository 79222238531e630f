import type { FleetResult } from './fleet-bench.js';
import { VARIANT_LABEL } from './fleet.js';
import { fmt, fmtInt, percentile, round, type FigureRow } from './results.js';

const bySize = (result: FleetResult) =>
  result.windows.toSorted((a, b) => a.fleetSize - b.fleetSize);

/** Figures 1, 2, 3 and 6 for each variant; goals are this module's, baselines shown against them. */
export function fleetRows(results: readonly FleetResult[]): FigureRow[] {
  const rows: FigureRow[] = [];
  for (const r of results) {
    const windows = bySize(r);
    const baseline = r.variant !== 'module';
    const subject = VARIANT_LABEL[r.variant];
    const perN = (pick: (w: (typeof windows)[number]) => string) =>
      windows.map((w) => `N=${w.fleetSize}: ${pick(w)}`).join(' · ');
    rows.push({
      id: '1',
      title: `definition fetches per poll interval (${fmtInt(windows[0]?.intervals ?? 0)}+ intervals of ${r.intervalMs} ms)`,
      subject,
      baseline,
      value: round(Math.max(...windows.map((w) => w.perInterval)), 3),
      unit: 'fetches/interval',
      display: perN((w) => fmt(w.perInterval)),
      goal: { op: '<=', target: 1.05, text: '1.00 for every N (≤ 1.05 with window edges)' },
      note: baseline
        ? undefined
        : "every /flags/definitions request the fake PostHog received in the window, whoever sent it, ÷ the window's length in intervals",
      details: { windows },
    });
    rows.push({
      id: '2',
      title: "share of the leader's polls answered 304 (unchanged definitions)",
      subject: r.variant === 'module' ? subject : `${subject} (every fetch)`,
      baseline,
      value: round(Math.min(...windows.map((w) => w.share304)), 3),
      unit: 'share',
      display: perN((w) => `${fmt(w.share304)} (${w.fetches304}/${w.fetches})`),
      goal: { op: '>=', target: 0.8, text: '≥ 0.80' },
      details: {
        windows: windows.map(({ fleetSize, fetches, fetches304 }) => ({
          fleetSize,
          fetches,
          fetches304,
        })),
      },
    });
    const p = r.propagation;
    const max = Math.max(...p.perChange);
    const p99 = percentile(p.perProcess, 99);
    rows.push({
      id: '3',
      title: `propagation: change at PostHog → all ${p.fleetSize} processes evaluate it (${p.perChange.length} changes)`,
      subject,
      baseline,
      value: round(max, 1),
      unit: 'ms',
      display:
        `max ${fmtInt(max)} ms · p99 ${fmtInt(p99)} ms · p50 ${fmtInt(percentile(p.perProcess, 50))} ms` +
        ` (after PostHog's first 200: p99 ${fmtInt(percentile(p.afterFirstFetch, 99))} ms)` +
        (p.timeouts ? ` · ${p.timeouts} timed out` : ''),
      goal: {
        op: '<=',
        target: r.intervalMs + 50,
        text: `≤ ${r.intervalMs + 50} ms (1 interval + 50 ms), max and p99`,
      },
      note: baseline
        ? undefined
        : "time from setDefinitions() at the fake to each process's /checkout answering with the new value (probed every ~2 ms once the fake has served the change: no process can have it earlier); max over changes of the slowest process, p99/p50 over every process and change; 'after PostHog's first 200' leaves out the wait for a poll (the fan-out alone)",
      details: { ...p, maxMs: round(max, 1), p99Ms: round(p99, 1) },
    });
    const c = r.cold;
    rows.push({
      id: '6',
      title: `cold fleet: ${c.fleetSize} processes started together on an empty Redis`,
      subject,
      baseline,
      value: c.fetches200,
      unit: 'fetches',
      display: `${c.fetches200} fetch${c.fetches200 === 1 ? '' : 'es'} · all ready in ${fmtInt(c.allReadyMs)} ms (boot included)${c.notReady ? ` · ${c.notReady} never ready` : ''}`,
      goal: { op: '<=', target: 1, text: '1 fetch' },
      note: baseline
        ? undefined
        : 'fetches = full (200) definitions answers while the fleet started; ready = listening and /status ready, timed from the common spawn (so Node and Nest boot on 2 cores is included)',
      details: { ...c },
    });
  }
  return rows;
}
