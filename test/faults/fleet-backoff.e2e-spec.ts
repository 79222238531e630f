/**
 * The fleet backs off as one (issue 13): during a long 401/429 outage a fleet of 4 sends about as
 * many definitions requests as one posthog-node process alone; and an unchanged follower costs
 * almost no CPU per interval. Real child processes, a real redis-server, the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { manyFlags, type FakePostHog } from '../support/fake-posthog.js';
import type { RedisServer } from '../support/redis-server.js';
import type { Redis } from 'ioredis';
import {
  definitionsRequestsBy,
  definitionsRequestsOf,
  fleetOptions,
  record,
  registerSecret,
  secretKeys,
  sleep,
  startFleet,
  startWorker,
  statusesOf,
  waitUntil,
} from './support-kit.js';
import { startFaultServers, stopFaultServers } from './support-servers.js';

const INTERVAL_MS = 150;
const OUTAGE_INTERVALS = 40;
/** The module's cap for this interval: 16 intervals (never over 60 s). */
const BACKOFF_CAP_MS = 16 * INTERVAL_MS;

/** posthog-node alone (no module), polling with its own backoff: the yardstick. */
function startPlainSdk(fake: FakePostHog, secretKey: string): Promise<ChildProcess> {
  const child = fork(join(process.cwd(), '.build/test/bench/sdk-worker.js'), [], {
    env: {
      ...process.env,
      BENCH_SDK_WORKER: JSON.stringify({
        mode: 'alone',
        projectApiKey: fake.projectApiKey,
        secretKey,
        host: fake.url,
        pollingIntervalMs: INTERVAL_MS,
      }),
    },
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`sdk worker exited (${code})`)));
  });
}

describe('fault injection: a fleet that backs off as one', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  const keys = secretKeys('backoff', 12);
  let nextKey = 0;
  const takeKeys = (n: number) => keys.slice(nextKey, (nextKey += n));
  const plain: ChildProcess[] = [];

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
  });
  afterAll(async () => {
    for (const child of plain) child.kill('SIGKILL');
    await stopFaultServers({ fake, redis, client });
  });

  for (const status of [429, 401] as const) {
    it(`PostHog answers ${status} for ${OUTAGE_INTERVALS} intervals: a fleet of 4 sends ≤ 1.2× what one posthog-node alone sends, and is back within one backoff cap`, async () => {
      const [sdkKey, ...fleetKeys] = takeKeys(5);
      registerSecret(sdkKey);
      const fleet = await startFleet(
        `backoff-${status}`,
        fleetKeys,
        fleetOptions(fake, redis.url, `faults-backoff-${status}`, {
          pollingIntervalMs: INTERVAL_MS,
        }),
      );
      plain.push(await startPlainSdk(fake, sdkKey));
      await waitUntil(async () => (await statusesOf(fleet)).every((s) => s.ready), {
        timeoutMs: 10_000,
        what: 'the fleet ready',
      });

      const faultAt = Date.now();
      fake.setFault({ kind: 'status', status });
      await sleep(OUTAGE_INTERVALS * INTERVAL_MS);
      const clearedAt = Date.now();
      fake.setFault(undefined);
      const fleetRequests = definitionsRequestsOf(fake, fleet, faultAt).filter(
        (r) => r.at < clearedAt,
      ).length;
      const aloneRequests = definitionsRequestsBy(fake, sdkKey, faultAt).filter(
        (r) => r.at < clearedAt,
      ).length;
      const back = await waitUntil(
        () =>
          definitionsRequestsOf(fake, fleet, clearedAt).find(
            (r) => r.status === 200 || r.status === 304,
          ),
        { timeoutMs: 3 * BACKOFF_CAP_MS, intervalMs: 10, what: 'a fetch after recovery' },
      );
      const recoveredMs = back.value.at - clearedAt;
      const statuses = await statusesOf(fleet);

      console.log(
        `${status} for ${OUTAGE_INTERVALS} intervals of ${INTERVAL_MS} ms: fleet of 4 sent ${fleetRequests} definitions requests, ` +
          `posthog-node alone ${aloneRequests} (ratio ${(fleetRequests / aloneRequests).toFixed(2)}); ` +
          `first 200/304 ${recoveredMs} ms after recovery (backoff cap ${BACKOFF_CAP_MS} ms)`,
      );
      record(`backoff-${status}`, `Fleet backoff under ${status}`, {
        intervalMs: INTERVAL_MS,
        intervals: OUTAGE_INTERVALS,
        fleetRequests,
        aloneRequests,
        recoveredMs,
        backoffCapMs: BACKOFF_CAP_MS,
      });
      expect(aloneRequests).toBeGreaterThanOrEqual(3);
      expect(fleetRequests).toBeGreaterThanOrEqual(3);
      expect(fleetRequests).toBeLessThanOrEqual(1.2 * aloneRequests);
      expect(recoveredMs).toBeLessThanOrEqual(BACKOFF_CAP_MS + INTERVAL_MS);
      for (const s of statuses) expect(s.ready).toBe(true);
      plain.pop()?.kill('SIGKILL');
      await Promise.all(fleet.map((w) => w.worker.stop()));
    }, 60_000);
  }

  it('costs an unchanged follower a few ms of CPU per interval at most with 8,000 flags, not a copy per poll', async () => {
    const intervalMs = 200;
    const intervals = 100;
    fake.setDefinitions({ flags: manyFlags(8_000) });
    const optionsFor = fleetOptions(fake, redis.url, 'faults-follower-cpu', {
      pollingIntervalMs: intervalMs,
      startupTimeoutMs: 15_000,
    });
    const [leaderKey, followerKey] = takeKeys(2);
    const leader = await startWorker('cpu-leader', optionsFor(leaderKey), 40_000);
    await waitUntil(async () => (await leader.worker.status()).ready, {
      timeoutMs: 20_000,
      what: 'the leader ready',
    });
    const follower = await startWorker('cpu-follower', optionsFor(followerKey), 40_000);
    await waitUntil(async () => (await follower.worker.status()).flagCount === 8_000, {
      timeoutMs: 20_000,
      what: 'the follower holding 8,000 flags',
    });
    // The same app with nothing to follow (offline: no Redis, no schedule), measured over the
    // same window: what waking up and idling costs on this machine, apart from following.
    const idle = await startWorker('cpu-idle', {
      projectApiKey: fake.projectApiKey,
      definitions: { flags: [] },
    });
    await sleep(10 * intervalMs); // past startup and the first read's garbage

    const cpuOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1_000;
    const before = await Promise.all([follower.worker.cpuUsage(), idle.worker.cpuUsage()]);
    const startedAt = Date.now();
    await sleep(intervals * intervalMs);
    const after = await Promise.all([follower.worker.cpuUsage(), idle.worker.cpuUsage()]);
    const elapsedIntervals = (Date.now() - startedAt) / intervalMs;
    const cpuMs = cpuOf(after[0]) - cpuOf(before[0]);
    const idleMs = cpuOf(after[1]) - cpuOf(before[1]);
    const totalPerIntervalMs = cpuMs / elapsedIntervals;
    const idlePerIntervalMs = idleMs / elapsedIntervals;
    const perIntervalMs = totalPerIntervalMs - idlePerIntervalMs;
    const followerStatus = await follower.worker.status();
    const fetchesByFollower = definitionsRequestsBy(fake, followerKey, startedAt).length;

    console.log(
      `follower with 8,000 flags unchanged, over ${elapsedIntervals.toFixed(0)} intervals of ${intervalMs} ms: ` +
        `${totalPerIntervalMs.toFixed(3)} ms CPU per interval in all, an idle app ${idlePerIntervalMs.toFixed(3)} ms, ` +
        `following ${perIntervalMs.toFixed(3)} ms per interval`,
    );
    record('follower-cpu', 'Follower CPU per interval, 8,000 flags unchanged', {
      intervalMs,
      intervals: Number(elapsedIntervals.toFixed(1)),
      totalPerIntervalMs: Number(totalPerIntervalMs.toFixed(3)),
      idlePerIntervalMs: Number(idlePerIntervalMs.toFixed(3)),
      perIntervalMs: Number(perIntervalMs.toFixed(3)),
    });
    expect(followerStatus).toMatchObject({ role: 'follower', ready: true, flagCount: 8_000 });
    expect(fetchesByFollower).toBe(0);
    // The ≤ 1 ms goal is the bench's figure 10 (median of windows, `npm run bench`); a timed test
    // keeps a generous bound that still catches a copy handed to posthog-node each poll (~20 ms).
    expect(perIntervalMs).toBeLessThanOrEqual(5);
    await Promise.all([leader.worker.stop(), follower.worker.stop(), idle.worker.stop()]);
  }, 120_000);
});
