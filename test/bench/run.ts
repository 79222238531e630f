/**
 * `npm run bench [-- --quick]`: every figure of the project's benchmark, each comparison in this
 * one invocation. Prints a markdown table (figures, goals, pass/miss) and writes the same as JSON
 * to bench-results.json (bench-results-quick.json for --quick) at the project root. Exits 0 when
 * every part ran, whether or not goals were met; 1 when a part failed.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfig, type BenchConfig } from './config.js';
import { FIGURE_ORDER } from './figure-ids.js';
import { runFleetBench } from './fleet-bench.js';
import { fleetRows } from './fleet-rows.js';
import { bytesRows, runFollowerBytes } from './follower-bytes.js';
import { codecRows, runCodecs } from './codec.js';
import { fanOutRows, runFanOut, type FanOutResult } from './fan-out.js';
import { guardRows, runGuardThroughput } from './guard-throughput.js';
import { describeMachine, machineInfo } from './machine.js';
import { followerCpuRows, runFollowerCpu } from './follower-cpu.js';
import { runScaleFleet, scaleRows } from './scale-fleet.js';
import { coldReadinessRows, runColdReadiness } from './cold-readiness.js';
import { memoryRows, runMemory } from './memory.js';
import { microRows, runMicro } from './micro.js';
import { markdownTable, notes, withVerdict, type FigureRow } from './results.js';

interface Section {
  name: string;
  /** The figure ids the section reports (for an error row when it fails). */
  ids: string[];
  run(config: BenchConfig): Promise<FigureRow[]>;
}

const SECTIONS: Section[] = [
  {
    name: 'fleets: fetches, 304s, propagation, cold start',
    ids: ['1', '2', '3', '6'],
    run: async (config) => {
      const results = [];
      for (const variant of ['module', 'alone', 'naive'] as const) {
        log(`fleet of ${variant}`);
        results.push(await runFleetBench(variant, config));
      }
      return fleetRows(results);
    },
  },
  {
    name: 'follower Redis bytes',
    ids: ['4'],
    run: async (config) =>
      bytesRows([
        await runFollowerBytes('module', config),
        await runFollowerBytes('naive', config),
      ]),
  },
  {
    name: 'change fan-out, previous release vs this one',
    ids: ['8'],
    run: async (config) => {
      const results: FanOutResult[] = [];
      for (const release of ['previous', 'this'] as const) {
        log(`fan-out: 500 then 8,000 flags, ${release} release`);
        results.push(...(await runFanOut(release, [500, 8_000], config)));
      }
      return fanOutRows(results);
    },
  },
  {
    name: 'shared-copy codec',
    ids: ['codec'],
    run: (config) => Promise.resolve(codecRows(runCodecs(config))),
  },
  {
    name: 'guard throughput',
    ids: ['5', '5a', '5b', '5c', '5d', '5e'],
    run: async (config) => guardRows(await runGuardThroughput(config)),
  },
  {
    name: 'memory',
    ids: ['7'],
    run: async (config) => memoryRows(await runMemory(config.intervalMs, config.memorySamples)),
  },
  {
    name: 'follower CPU',
    ids: ['10'],
    run: async (config) => followerCpuRows(await runFollowerCpu(config)),
  },
  {
    name: 'cold-fleet readiness against posthog-node alone',
    ids: ['6a'],
    run: async (config) => coldReadinessRows(await runColdReadiness(config)),
  },
  {
    name: 'fleet at scale (light processes)',
    ids: ['9', '9a', '9b'],
    run: async (config) => scaleRows(await runScaleFleet(config)),
  },
  {
    name: 'micro-benchmark',
    ids: ['micro'],
    run: async (config) => microRows(await runMicro(config)),
  },
];

const order = (id: string): number => (FIGURE_ORDER as readonly string[]).indexOf(id);

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function projectRoot(): string {
  // .build/test/bench/run.js → the project root three levels up.
  return join(dirname(fileURLToPath(import.meta.url)), '../../..');
}

async function main(): Promise<number> {
  process.chdir(projectRoot());
  const config = benchConfig(process.argv.slice(2));
  const machine = machineInfo();
  const started = new Date();
  const mode = config.quick ? 'quick' : 'full';
  log(`${mode} run on ${describeMachine(machine)}`);

  const rows: FigureRow[] = [];
  let failed = false;
  for (const section of SECTIONS) {
    const sectionStart = performance.now();
    log(`${section.name}…`);
    try {
      rows.push(...(await section.run(config)).map(withVerdict));
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      log(`${section.name} FAILED: ${error instanceof Error ? error.stack : String(error)}`);
      for (const id of section.ids) {
        rows.push({
          id,
          title: section.name,
          subject: '—',
          value: Number.NaN,
          unit: '',
          display: '',
          error: message,
        });
      }
    }
    log(`${section.name} done in ${((performance.now() - sectionStart) / 1000).toFixed(1)} s`);
  }
  rows.sort((a, b) => order(a.id) - order(b.id));
  const durationMs = Date.now() - started.getTime();

  const missed = rows.filter((r) => r.pass === false && !r.baseline);
  const lines = [
    `# nestjs-posthog-flags bench (${mode}${config.quick ? ': fewer intervals and samples, indicative only' : ''})`,
    '',
    `${started.toISOString()} · ${describeMachine(machine)} · poll interval ${config.intervalMs} ms · took ${(durationMs / 1000).toFixed(0)} s`,
    '',
    markdownTable(rows),
    '',
    'How each figure was measured:',
    ...notes(rows),
    '',
    "Goals are this module's; baselines are checked against the same goal for contrast, their verdicts in parentheses.",
    failed
      ? 'Some parts FAILED (rows marked ERROR): see the [bench] log on stderr.'
      : missed.length === 0
        ? 'Every goal of this module was met.'
        : `Missed goals: ${missed.map((r) => `${r.id} (${r.subject}: ${r.value} ${r.unit} vs ${r.goal?.text})`).join('; ')}.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const file = join(
    process.cwd(),
    config.quick ? 'bench-results-quick.json' : 'bench-results.json',
  );
  const json = {
    date: started.toISOString(),
    mode,
    durationMs,
    machine,
    config,
    figures: rows,
    missed: missed.map((r) => r.id),
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${file}`);
  return failed ? 1 : 0;
}

// Ctrl-C or a kill still runs the 'exit' handlers that kill every child process.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => process.exit(130));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
