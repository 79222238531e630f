import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import type { FlagDefinitionCacheData } from 'posthog-node';
import request from 'supertest';
import { cacheKeys } from '../src/sources/shared/cache-keys.js';
import {
  FeatureFlagsService,
  RedisFlagDefinitionCache,
  type PostHogFlagsModuleOptions,
} from '../src/index.js';
import { createApp } from './app/create-app.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import {
  createAppRedisClient,
  redisClientKind,
  withAppRedisClient,
} from './support/redis-client-kind.js';
import { RedisClusterServers } from './support/redis-cluster.js';
import { RedisSentinelServers } from './support/redis-sentinel.js';
import { readStoredDefinitions } from './support/stored-definitions.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const checkout = (rollout: number) => ({
  flags: [booleanFlag('new-checkout', { rolloutPercentage: rollout })],
});
const silent = { log() {}, warn() {}, error() {} };

const kind = redisClientKind();

const appRedisClosers = new Map<INestApplication, () => Promise<void>>();

/** The app, handing the module a client of this run's kind (FLAGS_REDIS_CLIENT). */
async function startApp(options: PostHogFlagsModuleOptions): Promise<INestApplication> {
  const redis = await withAppRedisClient(options);
  const app = await createApp(redis.options, 'express', { logger: false });
  appRedisClosers.set(app, () => redis.close());
  await app.init();
  return app;
}

/** Closes the app, then the Redis client the app made (if any), as an app's shutdown does. */
async function closeApp(app: INestApplication): Promise<void> {
  await app.close();
  await appRedisClosers.get(app)?.();
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const checkoutStatus = async (app: INestApplication) =>
  (await request(app.getHttpServer()).get('/checkout').set('authorization', 'Bearer ann')).status;

describe(`Redis Cluster (3 masters, client: ${kind})`, () => {
  let fake: FakePostHog;
  let cluster: RedisClusterServers;
  let nodes: Array<{ host: string; port: number }>;

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: checkout(0) });
    cluster = await RedisClusterServers.start();
    nodes = cluster.servers.map((s) => ({ host: s.host, port: s.port }));
  }, 120_000); // up to three tries at forming the cluster
  afterAll(async () => {
    await fake.close();
    await cluster?.stop();
  });

  it('elects one leader, shares definitions, and carries a change through pub/sub', async () => {
    const options: PostHogFlagsModuleOptions = {
      projectApiKey: fake.projectApiKey,
      secretKey: fake.secretKey,
      host: fake.url,
      redis: { cluster: nodes },
      pollingIntervalMs: 200,
      // Both apps share this process: the second one's start-up may block the event loop for
      // longer than a 600 ms default lease, which would hand the lease to the slow poller.
      leaseTtlMs: 5_000,
    };
    const leader = await startApp(options);
    // The follower polls rarely: seeing the change quickly proves the notice crossed the cluster.
    const follower = await startApp({ ...options, pollingIntervalMs: 10_000, leaseTtlMs: 60_000 });
    try {
      const roles = [leader, follower].map((app) => app.get(FeatureFlagsService).status());
      expect(roles.map((s) => s.role).sort()).toEqual(['follower', 'leader']);
      expect(roles.every((s) => s.ready && s.redis === 'ready')).toBe(true);
      expect(await checkoutStatus(follower)).toBe(404);

      const changedAt = Date.now();
      fake.setDefinitions(checkout(100));
      await until(
        async () => (await checkoutStatus(follower)) === 200,
        3_000,
        'the change on the follower',
      );
      expect(Date.now() - changedAt).toBeLessThan(1_500);
      expect(follower.get(FeatureFlagsService).status().lastError).toBeNull(); // no CROSSSLOT or other error
    } finally {
      await closeApp(follower);
      await closeApp(leader);
    }
  });

  it('fences a stale leader’s write with all keys in one slot (no CROSSSLOT)', async () => {
    const client = new Cluster(nodes);
    const appClient =
      kind === 'module' ? undefined : await createAppRedisClient({ cluster: nodes }, kind);
    const scope = { projectApiKey: `phc_cluster_${Date.now()}`, keyPrefix: 'cluster-test' };
    const options = {
      redis: appClient?.client ?? client,
      ...scope,
      leaseTtlMs: 300,
      coldLeaseTtlMs: 300, // an empty Redis: the stale leader's lease must lapse in 300 ms
      subscriber: false as const,
      logger: silent,
    };
    const stale = new RedisFlagDefinitionCache(options);
    const fresh = new RedisFlagDefinitionCache(options);
    const data = (key: string) =>
      ({
        flags: [{ key, active: true, filters: {} }],
        groupTypeMapping: {},
        cohorts: {},
      }) as unknown as FlagDefinitionCacheData;
    try {
      const keys = Object.values(cacheKeys(scope.keyPrefix, scope.projectApiKey));
      const slots = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);
      expect(await stale.shouldFetchFlagDefinitions()).toBe(true);
      await sleep(400);
      expect(await fresh.shouldFetchFlagDefinitions()).toBe(true);
      await fresh.onFlagDefinitionsReceived(data('new'));
      await stale.onFlagDefinitionsReceived(data('old'));
      const stored = (await readStoredDefinitions(client, fresh.keys))!;
      expect(stored.data.flags[0].key).toBe('new');
      expect(stale.status.lastError).toBeNull();
      expect(fresh.status.lastError).toBeNull();
    } finally {
      await stale.shutdown();
      await fresh.shutdown();
      client.disconnect();
      await appClient?.close();
    }
  });
});

describe(`Redis Sentinel (master, replica, sentinel; client: ${kind})`, () => {
  let fake: FakePostHog;
  let sentinel: RedisSentinelServers;

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: checkout(100) });
    sentinel = await RedisSentinelServers.start();
  });
  afterAll(async () => {
    await fake.close();
    await sentinel.stop();
  });

  it('keeps serving flags across a forced failover, and leadership resumes on the new master', async () => {
    const app = await startApp({
      projectApiKey: fake.projectApiKey,
      secretKey: fake.secretKey,
      host: fake.url,
      redis: { sentinels: sentinel.sentinels, name: sentinel.masterName },
      pollingIntervalMs: 100,
      leaseTtlMs: 1_000,
    });
    const flags = app.get(FeatureFlagsService);
    const keys = cacheKeys('posthog:flags', fake.projectApiKey);
    try {
      expect(flags.status()).toMatchObject({ role: 'leader', redis: 'ready', ready: true });
      const oldMaster = await sentinel.currentMasterPort();

      let failed = 0;
      let served = 0;
      let serving = true;
      const load = (async () => {
        while (serving) {
          if ((await checkoutStatus(app)) === 200) served++;
          else failed++;
          await sleep(5);
        }
      })();
      await sentinel.failover();
      const newMaster = await sentinel.currentMasterPort();
      expect(newMaster).not.toBe(oldMaster);

      // Leadership resumes on the new master: the lease is held there and meta is verified again.
      const onNewMaster = new Redis(newMaster, '127.0.0.1');
      try {
        const verifiedBefore = Number(await onNewMaster.hget(keys.meta, 'v'));
        await until(
          async () => Number(await onNewMaster.hget(keys.meta, 'v')) > verifiedBefore + 200,
          10_000,
          'verification on the new master',
        );
        expect(await onNewMaster.get(keys.lease)).not.toBeNull();
      } finally {
        onNewMaster.disconnect();
      }
      serving = false;
      await load;
      expect(failed).toBe(0);
      expect(served).toBeGreaterThan(20);
      expect(flags.status()).toMatchObject({ role: 'leader', redis: 'ready' });
    } finally {
      await closeApp(app);
    }
  });
});
