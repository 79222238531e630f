import { Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX } from '../../src/posthog-flags.internal-constants.js';
import { cacheKeys } from '../../src/sources/shared/cache-keys.js';
import { booleanFlag, FakePostHog, manyFlags } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { BenchChild } from './child.js';
import type { BenchConfig } from './config.js';
import { GATE_FLAG, PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { sleep } from './http-probe.js';
import type { LightWorkerConfig } from './light-worker.js';
import { fmt, round, type FigureRow } from './results.js';
import { percentile } from '../support/stats.js';

export interface ScaleResult {
  processes: number;
  intervalMs: number;
  /** Definitions requests to PostHog per interval, whole fleet. */
  fetchesPerInterval: number;
  /** Commands Redis processed per second, whole fleet (INFO stats, the meter's own excluded). */
  redisCommandsPerSecond: number;
  /** Per change: ms from the leader's write (its change notice) until every process served it. */
  allServingMs: number[];
  /** Per change and process, ms from the leader's write until that process served it. */
  perProcessMs: number[];
  bootMs: number;
}

const definitionsWith = (marker: number) => ({
  flags: [booleanFlag(GATE_FLAG), booleanFlag(`marker-${marker}`), ...manyFlags(20)],
});

/**
 * Figure 9: a fleet of light processes (this module's cache and posthog-node, no Nest app) on one
 * Redis: PostHog requests per interval, Redis commands per second, and how long after the
 * leader's write the whole fleet serves a change.
 */
export async function runScaleFleet(config: BenchConfig): Promise<ScaleResult> {
  const processes = config.scaleFleet;
  const intervalMs = config.intervalMs;
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: definitionsWith(0),
  });
  const redis = await RedisServer.start();
  const meter = new Redis(redis.url);
  const notices = new Redis(redis.url);
  const workers: BenchChild[] = [];
  try {
    const workerConfig: LightWorkerConfig = {
      projectApiKey: PROJECT_API_KEY,
      secretKey: SECRET_KEY,
      host: fake.url,
      redisUrl: redis.url,
      pollingIntervalMs: intervalMs,
    };
    const bootStarted = Date.now();
    workers.push(
      ...(await Promise.all(
        Array.from({ length: processes }, () =>
          BenchChild.start('light-worker.js', {
            env: { BENCH_LIGHT_WORKER: JSON.stringify(workerConfig) },
            timeoutMs: 120_000,
          }),
        ),
      )),
    );
    const bootMs = Date.now() - bootStarted;
    await sleep(3 * intervalMs);

    const commands = async () =>
      Number(/total_commands_processed:(\d+)/.exec(await meter.info('stats'))?.[1] ?? 0);
    fake.resetCounts();
    const before = await commands();
    const windowStarted = performance.now();
    await sleep(config.scaleIntervals * intervalMs);
    const after = await commands();
    const windowMs = performance.now() - windowStarted;
    const fetchesPerInterval = fake.counts.definitions / (windowMs / intervalMs);
    const redisCommandsPerSecond = (after - before - 1) / (windowMs / 1_000);

    // The leader's fenced write publishes the new hash: its arrival here is the write's moment.
    const channel = cacheKeys(DEFAULT_KEY_PREFIX, PROJECT_API_KEY).changedChannel;
    let noticeAt = 0;
    notices.on('message', () => (noticeAt ||= Date.now()));
    await notices.subscribe(channel);
    const allServingMs: number[] = [];
    const perProcessMs: number[] = [];
    for (let change = 1; change <= config.scaleChanges; change++) {
      noticeAt = 0;
      const marker = `marker-${change}`;
      const served = workers.map((w) => waitForServing(w, marker, 20 * intervalMs + 10_000));
      fake.setDefinitions(definitionsWith(change));
      const times = await Promise.all(served);
      const since = times.map((at) => at - noticeAt);
      perProcessMs.push(...since);
      allServingMs.push(Math.max(...since));
      await sleep(intervalMs);
    }
    return {
      processes,
      intervalMs,
      fetchesPerInterval: round(fetchesPerInterval, 3),
      redisCommandsPerSecond: round(redisCommandsPerSecond, 1),
      allServingMs,
      perProcessMs,
      bootMs,
    };
  } finally {
    meter.disconnect();
    notices.disconnect();
    await Promise.all(workers.map((w) => w.kill()));
    await fake.close();
    await redis.stop();
  }
}

/** When the worker reported serving `marker` (its own clock, the same machine's). */
async function waitForServing(w: BenchChild, marker: string, timeoutMs: number): Promise<number> {
  for (;;) {
    const message = await w.message<{ marker: string; at: number }>('serving', timeoutMs);
    if (message.marker === marker) return message.at;
  }
}

export function scaleRows(r: ScaleResult): FigureRow[] {
  const p99 = percentile(r.perProcessMs, 99);
  const worst = Math.max(...r.allServingMs);
  const subject = `this module, ${r.processes} light processes`;
  return [
    {
      id: '9',
      title: `fleet of ${r.processes}: PostHog definitions requests per interval (${r.intervalMs} ms)`,
      subject,
      value: r.fetchesPerInterval,
      unit: 'requests/interval',
      display: `${fmt(r.fetchesPerInterval)} (all ${r.processes} booted in ${fmt(r.bootMs / 1_000, 1)} s)`,
      goal: { op: '<=', target: 1.05, text: '≤ 1.05' },
      details: { ...r },
    },
    {
      id: '9a',
      title: `fleet of ${r.processes}: Redis commands per second, unchanged definitions`,
      subject,
      value: r.redisCommandsPerSecond,
      unit: 'commands/s',
      display: `${fmt(r.redisCommandsPerSecond, 1)} (${fmt(r.redisCommandsPerSecond / (1_000 / r.intervalMs) / r.processes)} per process per interval)`,
      note: 'INFO stats total_commands_processed over the window, the meter’s own INFO excluded',
    },
    {
      id: '9b',
      title: `fleet of ${r.processes}: from the leader's write to a process serving the change (${r.allServingMs.length} changes)`,
      subject,
      value: p99,
      unit: 'ms',
      display: `p99 ${fmt(p99, 0)} ms over ${r.perProcessMs.length} process-changes; all serving within ${fmt(worst, 0)} ms at worst`,
      note: "the write's moment is its change notice arriving at a subscriber; each process reports when its evaluation first returns the change's marker flag",
      goal: { op: '<=', target: 100, text: '≤ 100 ms' },
    },
  ];
}
