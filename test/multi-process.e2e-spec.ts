import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { FakePostHog, booleanFlag, multivariateFlag } from './support/fake-posthog.js';
import { redisClientKind } from './support/redis-client-kind.js';
import { RedisServer } from './support/redis-server.js';
import { WorkerProcess } from './support/worker-process.js';

const INTERVAL_MS = 200;
const USERS = Array.from({ length: 12 }, (_, i) => `user-${i}`);

const definitions = (checkoutRollout: number) => ({
  flags: [
    booleanFlag('new-checkout', { rolloutPercentage: checkoutRollout }),
    booleanFlag('express-shipping', { rolloutPercentage: 50 }),
    multivariateFlag('pricing-experiment', [
      { key: 'control', rolloutPercentage: 34 },
      { key: 'test-a', rolloutPercentage: 33 },
      { key: 'test-b', rolloutPercentage: 33 },
    ]),
  ],
});

// FLAGS_REDIS_CLIENT picks the client every worker hands the module (npm run test:clients).
describe(`4 real processes sharing one Redis (client: ${redisClientKind()})`, () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let workers: WorkerProcess[] = [];

  const options = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    redis: redis.url,
    pollingIntervalMs: INTERVAL_MS,
    leaseTtlMs: 10_000, // long: a failover below must come from the release, not from expiry
  });

  async function flagsOf(worker: WorkerProcess): Promise<Record<string, unknown>[]> {
    return Promise.all(USERS.map(async (user) => (await worker.get('/flags/me', user)).body.flags));
  }

  async function leaderOf(): Promise<WorkerProcess[]> {
    const roles = await Promise.all(workers.map((w) => w.status()));
    return workers.filter((_, i) => roles[i].role === 'leader');
  }

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: definitions(0) });
    redis = await RedisServer.start();
    workers = await Promise.all([0, 1, 2, 3].map(() => WorkerProcess.start(options())));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await fake.close();
    await redis.stop();
  });

  it('makes at most one definitions request per poll interval for the whole fleet', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
    fake.resetCounts();
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 22 * INTERVAL_MS));
    const intervals = (Date.now() - started) / INTERVAL_MS;
    expect(intervals).toBeGreaterThanOrEqual(20);
    expect(fake.counts.definitions).toBeLessThanOrEqual(Math.ceil(intervals) + 1);
    expect(fake.counts.definitions).toBeGreaterThanOrEqual(Math.floor(intervals / 2)); // someone polls
    expect(await leaderOf()).toHaveLength(1);
    const statuses = await Promise.all(workers.map((w) => w.status()));
    expect(statuses.filter((s) => s.role === 'follower')).toHaveLength(3);
    expect(statuses.every((s) => s.ready && s.redis === 'ready' && s.flagCount === 3)).toBe(true);
  });

  it('evaluates the same values in every process, followers included', async () => {
    const [first, ...others] = await Promise.all(workers.map(flagsOf));
    expect(first.every((flags) => flags['new-checkout'] === false)).toBe(true);
    expect(new Set(first.map((flags) => flags['pricing-experiment'])).size).toBeGreaterThan(1);
    for (const other of others) expect(other).toEqual(first);
  });

  it('carries a definitions change to every process', async () => {
    fake.setDefinitions(definitions(100));
    const deadline = Date.now() + 3_000;
    let seen: boolean[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all(
        workers.map(async (w) => (await w.get('/checkout', 'user-1')).status === 200),
      );
      if (seen.every(Boolean)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen).toEqual([true, true, true, true]);
    const [first, ...others] = await Promise.all(workers.map(flagsOf));
    expect(first.every((flags) => flags['new-checkout'] === true)).toBe(true);
    for (const other of others) expect(other).toEqual(first);
  });

  it('hands leadership over on graceful shutdown at the next poll, not after the lease TTL', async () => {
    const [leader] = await leaderOf();
    const stoppedAt = Date.now();
    expect(await leader.stop()).toEqual({ code: null, signal: 'SIGTERM' }); // hooks ran, no SIGKILL
    workers = workers.filter((w) => w !== leader);
    let next: WorkerProcess[] = [];
    while (next.length === 0 && Date.now() - stoppedAt < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      next = await leaderOf();
    }
    expect(next).toHaveLength(1);
    expect(Date.now() - stoppedAt).toBeLessThan(3 * INTERVAL_MS + 1_000); // TTL is 10 s
    expect(leader.output).not.toContain(fake.secretKey);
  });
});
