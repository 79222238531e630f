import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { BenchChild } from './child.js';
import type { BenchConfig } from './config.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { gateDefinitions } from './flag-sets.js';
import { jsonOf, sleep } from './http-probe.js';
import type { LightWorkerConfig } from './light-worker.js';
import type { SdkWorkerConfig } from './sdk-worker.js';
import { fmt, round, type FigureRow } from './results.js';
import { median } from '../support/stats.js';

export interface ColdReadiness {
  processes: number;
  /** Per repeat: ms from the common spawn until every process held definitions. */
  moduleMs: number[];
  aloneMs: number[];
  /** Per repeat, module ÷ alone. */
  ratios: number[];
}

/**
 * Figure 6a: a cold fleet's readiness, this module ÷ posthog-node alone, in the same bare process
 * (no Nest app in either, so Nest's own boot on 2 cores does not pass for the module's cost),
 * repeated and alternated so that one slow run cannot make a gap.
 */
export async function runColdReadiness(config: BenchConfig): Promise<ColdReadiness> {
  const moduleMs: number[] = [];
  const aloneMs: number[] = [];
  for (let repeat = 0; repeat < config.coldRepeats; repeat++) {
    // Alternate which goes first: a drift in background load hits both alike.
    const order =
      repeat % 2 === 0 ? (['module', 'alone'] as const) : (['alone', 'module'] as const);
    for (const variant of order) {
      const ms = await coldFleetReadyMs(variant, config);
      (variant === 'module' ? moduleMs : aloneMs).push(ms);
    }
  }
  return {
    processes: config.coldFleet,
    moduleMs,
    aloneMs,
    ratios: moduleMs.map((m, i) => round(m / aloneMs[i]!, 2)),
  };
}

async function coldFleetReadyMs(variant: 'module' | 'alone', config: BenchConfig): Promise<number> {
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: gateDefinitions(true),
  });
  const redis = await RedisServer.start();
  const children: BenchChild[] = [];
  try {
    const started = Date.now();
    const ready = await Promise.all(
      Array.from({ length: config.coldFleet }, async () => {
        const child = await startColdMember(variant, fake.url, redis.url, config.intervalMs);
        children.push(child);
        // The light worker says ready once it holds definitions; posthog-node alone is asked.
        while (
          variant === 'alone' &&
          !(await jsonOf<{ ready: boolean }>(child.url, '/status'))?.ready
        )
          await sleep(10);
        return Date.now() - started;
      }),
    );
    return Math.max(...ready);
  } finally {
    await Promise.all(children.map((c) => c.kill()));
    await fake.close();
    await redis.stop();
  }
}

function startColdMember(
  variant: 'module' | 'alone',
  host: string,
  redisUrl: string,
  pollingIntervalMs: number,
): Promise<BenchChild> {
  const common = { projectApiKey: PROJECT_API_KEY, secretKey: SECRET_KEY, host, pollingIntervalMs };
  if (variant === 'module') {
    const light: LightWorkerConfig = { ...common, redisUrl };
    return BenchChild.start('light-worker.js', {
      env: { BENCH_LIGHT_WORKER: JSON.stringify(light) },
      timeoutMs: 60_000,
    });
  }
  const alone: SdkWorkerConfig = { ...common, mode: 'alone' };
  return BenchChild.start('sdk-worker.js', {
    env: { BENCH_SDK_WORKER: JSON.stringify(alone) },
    timeoutMs: 60_000,
  });
}

export function coldReadinessRows(r: ColdReadiness): FigureRow[] {
  const ratio = median(r.ratios);
  return [
    {
      id: '6a',
      title: `cold fleet of ${r.processes}: all holding definitions, this module ÷ posthog-node alone (no Nest in either)`,
      subject: 'this module (light processes)',
      value: ratio,
      unit: 'ratio',
      display: `${fmt(ratio)} median of ${r.ratios.length} (ratios ${r.ratios.join(' / ')}; module ${r.moduleMs.join(' / ')} ms, alone ${r.aloneMs.join(' / ')} ms)`,
      note: 'each repeat a fresh fake PostHog and an empty Redis; module and alone alternate which runs first. The example-app fleet (figure 6) also pays Nest’s boot. This was 1.66 until the cache stopped loading @nestjs/common for a default Logger (~0.3 s of CPU per process, 16 processes on 2 cores): it now loads in ~75 ms and logs to the console unless given a logger',
      goal: { op: '<=', target: 1.2, text: '≤ 1.20' },
      details: { ...r },
    },
  ];
}
