/**
 * posthog-node makes no definitions request the module's schedule did not ask for: its poller is
 * off, and the loads it starts on its own (every evaluation before its first successful load) never
 * reach PostHog. Real posthog-node, real redis-server, the fake PostHog failing so that nothing
 * ever loads — the case where posthog-node would otherwise fetch on every evaluation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  PostHog,
  type FlagDefinitionCacheData,
  type FlagDefinitionCacheProvider,
} from 'posthog-node';
import { DefinitionsGeneration } from '../src/definitions-generation.js';
import { FlagsStatusTracker } from '../src/flags-status.js';
import { RedisFlagDefinitionCache } from '../src/index.js';
import { cacheKeys } from '../src/sources/shared/cache-keys.js';
import { StandaloneDefinitionsObserver } from '../src/sources/standalone-definitions-observer.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisServer } from './support/redis-server.js';

const INTERVAL_MS = 200;
const WINDOW_MS = 3_000;
const quiet = { log() {}, warn() {}, error() {} };

/** The provider posthog-node is given, counting the fetches the module granted. */
function counting(provider: FlagDefinitionCacheProvider): {
  provider: FlagDefinitionCacheProvider;
  granted: () => number;
} {
  let granted = 0;
  return {
    granted: () => granted,
    provider: {
      shouldFetchFlagDefinitions: async () => {
        const fetch = await provider.shouldFetchFlagDefinitions();
        if (fetch) granted++;
        return fetch;
      },
      getFlagDefinitions: () => provider.getFlagDefinitions(),
      onFlagDefinitionsReceived: (data: FlagDefinitionCacheData) =>
        provider.onFlagDefinitionsReceived(data),
      shutdown: () => provider.shutdown(),
    },
  };
}

/** Evaluations as fast as they come, as an app under load makes them, until `until`. */
async function hammer(posthog: PostHog, until: number): Promise<number> {
  let evaluations = 0;
  while (Date.now() < until) {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        posthog.evaluateFlags(`user-${evaluations}`, { flagKeys: ['new-checkout'] }),
      ),
    );
    evaluations += 20;
  }
  return evaluations;
}

describe('definitions requests come only from the module’s schedule', () => {
  let fake: FakePostHog;
  let redisServer: RedisServer;
  let redis: Redis;
  const followerKey = 'phs_scheduler_follower_SECRET';
  let stops: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: { flags: [booleanFlag('new-checkout')] },
      extraSecretKeys: [followerKey],
    });
    redisServer = await RedisServer.start();
    redis = new Redis(redisServer.url);
  });
  afterEach(async () => {
    for (const stop of stops) await stop();
    stops = [];
  });
  afterAll(async () => {
    redis.disconnect();
    await redisServer.stop();
    await fake.close();
  });

  function client(
    provider: FlagDefinitionCacheProvider,
    fetch: RedisFlagDefinitionCache['wrapFetch'] extends (...a: never[]) => infer F ? F : never,
    secretKey = fake.secretKey,
  ): PostHog {
    const posthog = new PostHog(fake.projectApiKey, {
      host: fake.url,
      secretKey,
      flagDefinitionCacheProvider: provider,
      fetch,
      featureFlagsPollingInterval: null,
      flushAt: 1_000,
    });
    posthog.on('error', () => undefined);
    return posthog;
  }

  it('shared mode, PostHog failing (5xx, no SDK backoff): requests only when granted, at most one per interval for the pair', async () => {
    fake.resetCounts();
    fake.setFault({ kind: 'status', status: 500 });
    const scope = { redis, projectApiKey: fake.projectApiKey, keyPrefix: `sched:${Date.now()}` };
    const common = {
      ...scope,
      pollingIntervalMs: INTERVAL_MS,
      coldStartWaitMs: 300,
      logger: quiet,
    };
    const leaderCache = new RedisFlagDefinitionCache(common);
    const leader = counting(leaderCache);
    const leaderClient = client(leader.provider, leaderCache.wrapFetch());
    leaderCache.bindClient(leaderClient);
    const followerCache = new RedisFlagDefinitionCache(common);
    const follower = counting(followerCache);
    const followerClient = client(follower.provider, followerCache.wrapFetch(), followerKey);
    followerCache.bindClient(followerClient);

    // Shut down even when an assertion fails: a schedule left running would fetch during the next test.
    stops.push(() => Promise.all([leaderClient.shutdown(1_000), followerClient.shutdown(1_000)]));
    const startedAt = Date.now();
    const [leaderEvaluations, followerEvaluations] = await Promise.all([
      hammer(leaderClient, startedAt + WINDOW_MS),
      hammer(followerClient, startedAt + WINDOW_MS),
    ]);
    const elapsedIntervals = (Date.now() - startedAt) / INTERVAL_MS;
    const byKey = (key: string) =>
      fake.requests.filter(
        (r) => r.path === '/flags/definitions' && r.authorization === `Bearer ${key}`,
      ).length;
    const leaderRequests = byKey(fake.secretKey);
    const followerRequests = byKey(followerKey);
    console.log(
      `over ${elapsedIntervals.toFixed(0)} intervals: leader ${leaderEvaluations} evaluations, ${leaderRequests} definitions requests, ` +
        `${leader.granted()} granted by the module; follower ${followerEvaluations} evaluations, ${followerRequests} requests`,
    );
    expect(leaderEvaluations + followerEvaluations).toBeGreaterThan(400);
    // Every request was granted by the module, whoever led: a leader that loses its lease under a
    // loaded machine (a Redis call past its bound counts as a failure) hands over, legitimately.
    expect(leaderRequests).toBe(leader.granted());
    expect(followerRequests).toBe(follower.granted());
    expect(leaderRequests + followerRequests).toBeGreaterThanOrEqual(2);
    expect(leaderRequests + followerRequests).toBeLessThanOrEqual(Math.ceil(elapsedIntervals) + 1);
    expect(leaderClient.isLocalEvaluationReady()).toBe(false);

    fake.setFault(undefined);
  });

  it('a cold follower whose wait runs out while meta holds only the fleet backoff makes no request', async () => {
    fake.resetCounts();
    const scope = {
      redis,
      projectApiKey: fake.projectApiKey,
      keyPrefix: `sched-cold:${Date.now()}`,
    };
    const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
    // What a leader leaves after its first fetch failed: its lease, and meta with backoff fields only.
    await redis.set(keys.lease, 'another-host:1:abcd', 'PX', 60_000);
    await redis.hset(keys.meta, 'bn', '1', 'bu', String(Date.now() + 60_000));
    const followerCache = new RedisFlagDefinitionCache({
      ...scope,
      pollingIntervalMs: INTERVAL_MS,
      coldStartWaitMs: 100,
      logger: quiet,
    });
    const follower = counting(followerCache);
    const followerClient = client(follower.provider, followerCache.wrapFetch(), followerKey);
    followerCache.bindClient(followerClient);
    stops.push(() => followerClient.shutdown(1_000));
    const evaluations = await hammer(followerClient, Date.now() + 1_000);
    const requests = fake.requests.filter((r) => r.path === '/flags/definitions').length;
    console.log(
      `cold follower, meta with backoff only: ${evaluations} evaluations, ${requests} requests`,
    );
    expect(evaluations).toBeGreaterThan(100);
    expect(follower.granted()).toBe(0);
    expect(requests).toBe(0);
  });

  it('standalone (no Redis), PostHog answering 401: one request per granted load, none per evaluation', async () => {
    fake.resetCounts();
    fake.setFault({ kind: 'status', status: 401 });
    const status = new FlagsStatusTracker('standalone', 'none');
    const observer = new StandaloneDefinitionsObserver(
      status,
      new DefinitionsGeneration(),
      INTERVAL_MS,
    );
    const counted = counting(observer);
    const { observeFetch } = await import('../src/sources/observed-fetch.js');
    const posthog = client(counted.provider, observeFetch(globalThis.fetch, [observer]));
    observer.bindClient(posthog);
    stops.push(() => posthog.shutdown(1_000));

    const startedAt = Date.now();
    const evaluations = await hammer(posthog, startedAt + WINDOW_MS);
    const elapsedIntervals = (Date.now() - startedAt) / INTERVAL_MS;
    const requests = fake.counts.definitions;
    console.log(
      `standalone over ${elapsedIntervals.toFixed(0)} intervals: ${evaluations} evaluations, ${requests} definitions requests, ${counted.granted()} granted`,
    );
    expect(evaluations).toBeGreaterThan(200);
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(requests).toBe(counted.granted());
    // Backed off (401): fewer than one per interval.
    expect(requests).toBeLessThan(elapsedIntervals / 2);
    fake.setFault(undefined);
  });
});
