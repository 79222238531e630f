import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import type { BenchConfig } from './config.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { gateDefinitions } from './flag-sets.js';
import { Fleet, type Variant } from './fleet.js';
import { sleep, statusOf, until } from './http-probe.js';

export interface FetchWindow {
  fleetSize: number;
  intervals: number;
  fetches: number;
  fetches304: number;
  perInterval: number;
  share304: number;
}

export interface ColdStart {
  fleetSize: number;
  /** Full downloads (200s) while the fleet started: each is a definitions fetch PostHog bills. */
  fetches200: number;
  requests: number;
  allReadyMs: number;
  notReady: number;
}

export interface Propagation {
  fleetSize: number;
  /** Per change: ms from the change at PostHog until every process evaluated the new value. */
  perChange: number[];
  /** Per change and process. */
  perProcess: number[];
  /** Per change and process, from the fake's first 200 with the change (fan-out, not poll phase). */
  afterFirstFetch: number[];
  timeouts: number;
}

export interface FleetResult {
  variant: Variant;
  intervalMs: number;
  cold: ColdStart;
  windows: FetchWindow[];
  propagation: Propagation;
}

const PROBE_USER = 'bench-user';

/** Counts the definitions requests the whole fleet makes over `intervals` poll intervals. */
async function fetchWindow(
  fake: FakePostHog,
  fleet: Fleet,
  intervalMs: number,
  intervals: number,
): Promise<FetchWindow> {
  await sleep(2 * intervalMs); // settle after a start or a shrink
  fake.resetCounts();
  const started = performance.now();
  await sleep(intervals * intervalMs);
  const measured = (performance.now() - started) / intervalMs;
  const { definitions, definitions304 } = fake.counts;
  return {
    fleetSize: fleet.members.length,
    intervals: measured,
    fetches: definitions,
    fetches304: definitions304,
    perInterval: definitions / measured,
    share304: definitions === 0 ? 0 : definitions304 / definitions,
  };
}

/**
 * Flips the gate at the fake PostHog `changes` times, at random phases of the poll interval, and
 * times how long until each process's `/checkout` answers with the new value. No process can
 * have it before the fake served it, so probing starts at the first 200 after the change (and
 * stays out of the way of the pollers until then); the probe's own resolution is a few ms.
 */
async function propagation(
  fake: FakePostHog,
  fleet: Fleet,
  intervalMs: number,
  changes: number,
): Promise<Propagation> {
  const result: Propagation = {
    fleetSize: fleet.members.length,
    perChange: [],
    perProcess: [],
    afterFirstFetch: [],
    timeouts: 0,
  };
  let on = false;
  for (let i = 0; i < changes; i++) {
    await sleep(50 + Math.random() * intervalMs);
    on = !on;
    const served = fake.counts.definitions200;
    const changedAt = performance.now();
    const deadline = changedAt + 6 * intervalMs + 2_000;
    fake.setDefinitions(gateDefinitions(on));
    await until(() => fake.counts.definitions200 > served, deadline);
    const fetchedAfter = performance.now() - changedAt;
    const latencies = await Promise.all(
      fleet.members.map(async (member) => {
        const seen = await until(
          async () => ((await statusOf(member.url, '/checkout', PROBE_USER)) === 200) === on,
          deadline,
          2,
        );
        if (!seen) result.timeouts++;
        return performance.now() - changedAt;
      }),
    );
    const ms = (value: number): number => Math.round(value * 10) / 10;
    result.perProcess.push(...latencies.map(ms));
    result.afterFirstFetch.push(...latencies.map((latency) => ms(latency - fetchedAfter)));
    result.perChange.push(ms(Math.max(...latencies)));
  }
  return result;
}

/**
 * One variant through figures 1, 2, 3 and 6: a cold fleet on an empty Redis, then fetch-counting
 * windows at each fleet size (largest first, shrinking the fleet), and propagation timing.
 */
export async function runFleetBench(variant: Variant, config: BenchConfig): Promise<FleetResult> {
  const { intervalMs } = config;
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: gateDefinitions(false),
  });
  const redis = await RedisServer.start();
  const fleet = new Fleet({ variant, host: fake.url, redisUrl: redis.url, intervalMs });
  try {
    const readyAfter = await fleet.startTogether(config.coldFleet);
    const cold: ColdStart = {
      fleetSize: config.coldFleet,
      fetches200: fake.counts.definitions200,
      requests: fake.counts.definitions,
      allReadyMs: Math.max(...readyAfter.filter(Number.isFinite)),
      notReady: readyAfter.filter((ms) => !Number.isFinite(ms)).length,
    };
    const windows: FetchWindow[] = [];
    let prop: Propagation | undefined;
    for (const size of config.fleetSizes.toSorted((a, b) => b - a)) {
      await fleet.shrinkTo(size);
      windows.push(await fetchWindow(fake, fleet, intervalMs, config.windowIntervals));
      if (size === config.propagationFleet) {
        prop = await propagation(fake, fleet, intervalMs, config.changes);
      }
    }
    if (!prop) throw new Error(`propagationFleet ${config.propagationFleet} is not a fleet size`);
    return { variant, intervalMs, cold, windows, propagation: prop };
  } finally {
    await fleet.stop();
    await fake.close();
    await redis.stop();
  }
}
