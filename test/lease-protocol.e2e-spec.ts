import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  FeatureFlagsService,
  PostHogFlagsModule,
  RedisFlagDefinitionCache,
  FLAG_DEFINITION_CACHE,
} from '../src/index.js';
import { BlackHoleServer } from './support/black-hole-server.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { freePort } from './support/free-port.js';
import { sharedTestRedis } from './support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let fake: FakePostHog;
let redis: { url: string; stop(): Promise<void> };
let client: Redis;

beforeAll(async () => {
  fake = await FakePostHog.start({ definitions: { flags: [booleanFlag('on')] } });
  redis = await sharedTestRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await fake.close();
  await redis.stop();
});

async function bootApp(options: Record<string, unknown>) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      PostHogFlagsModule.forRoot({
        projectApiKey: fake.projectApiKey,
        secretKey: fake.secretKey,
        host: fake.url,
        keyPrefix: `lease-test:${Math.random().toString(36).slice(2, 8)}`,
        pollingIntervalMs: 100,
        ...options,
      }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('lease protocol with the real posthog-node', () => {
  it('keeps the shared copy and its ETag through many 304s, with verifiedAt advancing', async () => {
    const app = await bootApp({ redis: redis.url, leaseTtlMs: 300 });
    const cache: RedisFlagDefinitionCache = app.get(FLAG_DEFINITION_CACHE);
    const flags = app.get(FeatureFlagsService);
    await sleep(250);
    const firstVerified = Number(await client.hget(cache.keys.meta, 'v'));
    fake.resetCounts();

    await sleep(1_500); // ≥ 10 poll intervals, 5 lease TTLs

    const polls = fake.requests.filter((r) => r.path === '/flags/definitions');
    const notModified = polls.filter((r) => r.status === 304);
    expect(polls.length).toBeGreaterThanOrEqual(10);
    expect(notModified.length / polls.length).toBeGreaterThanOrEqual(0.8);
    expect(notModified.every((r) => r.ifNoneMatch === fake.etag)).toBe(true);
    expect(await client.exists(cache.keys.definitions)).toBe(1);
    expect(await client.pttl(cache.keys.definitions)).toBe(-1); // the copy has no TTL to outlive
    expect(Number(await client.hget(cache.keys.meta, 'v'))).toBeGreaterThan(firstVerified + 1_000);
    expect(await client.get(cache.keys.lease)).toBe(cache.instanceId); // the same leader throughout
    expect(flags.status()).toMatchObject({ role: 'leader', ready: true });
    expect(flags.status().ageMs).toBeLessThan(500);
    await app.close();
  });

  it('refetches in full when the shared copy disappeared while PostHog kept answering 304', async () => {
    const app = await bootApp({ redis: redis.url, leaseTtlMs: 300 });
    const cache: RedisFlagDefinitionCache = app.get(FLAG_DEFINITION_CACHE);
    await sleep(300);
    await client.del(cache.keys.definitions, cache.keys.meta); // e.g. a Redis restart or eviction
    fake.resetCounts();
    await sleep(500);
    expect(fake.counts.definitions200).toBeGreaterThanOrEqual(1);
    expect(await client.exists(cache.keys.definitions)).toBe(1);
    await app.close();
  });

  it('puts meta right without a full fetch when only meta’s hash was overwritten', async () => {
    const app = await bootApp({ redis: redis.url, leaseTtlMs: 300 });
    const cache: RedisFlagDefinitionCache = app.get(FLAG_DEFINITION_CACHE);
    await sleep(300);
    const own = await client.hget(cache.keys.meta, 'h');
    fake.resetCounts();
    await client.hset(cache.keys.meta, 'h', 'f'.repeat(16));
    await sleep(500);
    expect(await client.hget(cache.keys.meta, 'h')).toBe(own);
    expect(fake.counts.definitions200).toBe(0);
    await app.close();
  });

  it('refetches in full when the stored copy was replaced, whatever meta says', async () => {
    const app = await bootApp({ redis: redis.url, leaseTtlMs: 300 });
    const cache: RedisFlagDefinitionCache = app.get(FLAG_DEFINITION_CACHE);
    await sleep(300);
    const own = await client.get(cache.keys.definitions);
    fake.resetCounts();
    await client.set(cache.keys.definitions, `${own!.slice(0, -1)} }`);
    await client.hset(cache.keys.meta, 'h', 'f'.repeat(16));
    await sleep(500);
    expect(fake.counts.definitions200).toBeGreaterThanOrEqual(1);
    expect(await client.get(cache.keys.definitions)).not.toBe(`${own!.slice(0, -1)} }`);
    await app.close();
  });

  it('releases the lease on app shutdown', async () => {
    const app = await bootApp({ redis: redis.url, leaseTtlMs: 10_000 });
    const cache: RedisFlagDefinitionCache = app.get(FLAG_DEFINITION_CACHE);
    expect(await client.get(cache.keys.lease)).toBe(cache.instanceId);
    await app.close();
    expect(await client.exists(cache.keys.lease)).toBe(0);
  });
});

describe('Redis unreachable at boot', () => {
  it('refused: boots within a few seconds, polls PostHog itself and evaluates', async () => {
    const started = Date.now();
    const app = await bootApp({ redis: `redis://127.0.0.1:${await freePort()}` });
    expect(Date.now() - started).toBeLessThan(4_000);
    const flags = app.get(FeatureFlagsService);
    expect(await flags.isEnabled('on', 'user-1')).toBe(true);
    expect(flags.status()).toMatchObject({ redis: 'down', ready: true });
    const closing = Date.now();
    await app.close();
    expect(Date.now() - closing).toBeLessThan(3_000);
  });

  it('black-holed (accepts, never answers): boots within a few seconds and evaluates', async () => {
    const blackHole = await BlackHoleServer.start();
    try {
      const started = Date.now();
      const app = await bootApp({ redis: blackHole.url, redisCommandTimeoutMs: 300 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(blackHole.connections).toBeGreaterThan(0);
      const flags = app.get(FeatureFlagsService);
      const evaluating = Date.now();
      expect(await flags.isEnabled('on', 'user-1')).toBe(true);
      expect(Date.now() - evaluating).toBeLessThan(50);
      expect(flags.status()).toMatchObject({ redis: 'down', ready: true });
      const closing = Date.now();
      await app.close();
      expect(Date.now() - closing).toBeLessThan(3_000);
    } finally {
      await blackHole.close();
    }
  });
});

describe('a process starved of CPU', () => {
  /** Blocks the event loop, as a boot of many processes on few cores does. */
  function hogCpu(ms: number) {
    const until = Date.now() + ms;
    while (Date.now() < until);
  }

  it('keeps a lease reply that arrived while its event loop was blocked past the command bound (no false Redis outage)', async () => {
    const commands = new Redis(redis.url);
    await commands.ping();
    const cache = new RedisFlagDefinitionCache({
      redis: commands,
      projectApiKey: fake.projectApiKey,
      keyPrefix: `starved:${Date.now()}`,
      commandTimeoutMs: 200,
      subscriber: false,
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    try {
      const deciding = cache.shouldFetchFlagDefinitions();
      hogCpu(600); // the reply is in the socket long before the loop turns again
      expect(await deciding).toBe(true);
      expect(cache.role).toBe('leader');
    } finally {
      await cache.shutdown();
      commands.disconnect();
    }
  });
});
