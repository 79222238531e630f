import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Registry } from 'prom-client';
import request from 'supertest';
import { FeatureFlagsService, type PostHogFlagsModuleOptions } from '../src/index.js';
import { createApp } from './app/create-app.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisServer } from './support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const INTERVAL_MS = 100;
const MAX_AGE_MS = 400;

async function startApp(options: PostHogFlagsModuleOptions): Promise<INestApplication> {
  const app = await createApp(options, 'express', { logger: false });
  await app.init();
  return app;
}

/** Polls /health until it answers `status`, or fails after `timeoutMs`. */
async function healthBecomes(app: INestApplication, status: number, timeoutMs = 3_000) {
  const deadline = Date.now() + timeoutMs;
  let last: request.Response;
  do {
    last = await request(app.getHttpServer()).get('/health');
    if (last.status === status) return last;
    await sleep(25);
  } while (Date.now() < deadline);
  throw new Error(`/health stayed ${last.status}: ${JSON.stringify(last.body)}`);
}

describe('health', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  const base = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: INTERVAL_MS,
    maxAgeMs: MAX_AGE_MS,
    startupTimeoutMs: 300,
  });

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: { flags: [booleanFlag('new-checkout')] } });
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await fake.close();
    await redis.stop();
  });

  it('is 503 before the first load and 200 with status ok once definitions are loaded', async () => {
    fake.setFault({ kind: 'status', status: 500 });
    const app = await startApp(base());
    try {
      const before = await request(app.getHttpServer()).get('/health').expect(503);
      expect(before.body.error.posthog_flags).toMatchObject({ status: 'down', ready: false });
      fake.setFault(undefined);
      const after = await healthBecomes(app, 200);
      expect(after.body).toMatchObject({
        status: 'ok',
        info: { posthog_flags: { status: 'up', flagCount: 1 } },
      });
    } finally {
      await app.close();
    }
  });

  it('turns 503 when PostHog fails for longer than maxAgeMs, and 200 again once it recovers', async () => {
    const app = await startApp(base());
    try {
      await healthBecomes(app, 200);
      fake.setFault({ kind: 'status', status: 502 });
      const down = await healthBecomes(app, 503);
      expect(down.body.error.posthog_flags.ageMs).toBeGreaterThan(MAX_AGE_MS);
      expect(down.body.error.posthog_flags.lastError).toMatch(/server error/);
      fake.setFault(undefined);
      await healthBecomes(app, 200);
    } finally {
      fake.setFault(undefined);
      await app.close();
    }
  });

  it('keeps a follower healthy for many maxAgeMs while the leader only gets 304s', async () => {
    const shared = { ...base(), redis: redis.url, keyPrefix: `health-${Date.now()}` };
    const leader = await startApp(shared);
    const follower = await startApp(shared);
    try {
      expect(follower.get(FeatureFlagsService).status().role).toBe('follower');
      await healthBecomes(follower, 200);
      fake.resetCounts();
      const until = Date.now() + 5 * MAX_AGE_MS;
      while (Date.now() < until) {
        const { body } = await request(follower.getHttpServer()).get('/health').expect(200);
        expect(body.info.posthog_flags.ageMs).toBeLessThanOrEqual(MAX_AGE_MS);
        await sleep(50);
      }
      expect(fake.counts.definitions200).toBe(0); // no content change: verification alone
      expect(fake.counts.definitions304).toBeGreaterThan(10);
    } finally {
      await follower.close();
      await leader.close();
    }
  });

  it('reports Redis down mid-run and stays up while the in-memory definitions are fresh', async () => {
    const server = await RedisServer.start();
    const app = await startApp({ ...base(), redis: server.url, redisCommandTimeoutMs: 200 });
    try {
      await healthBecomes(app, 200);
      await server.kill();
      await sleep(3 * INTERVAL_MS);
      const { body } = await request(app.getHttpServer()).get('/health').expect(200);
      expect(body.info.posthog_flags).toMatchObject({ redis: 'down', ready: true, status: 'up' });
      expect(body.info.posthog_flags.ageMs).toBeLessThanOrEqual(MAX_AGE_MS);
      await request(app.getHttpServer())
        .get('/checkout')
        .set('authorization', 'Bearer ann')
        .expect(200);
    } finally {
      await app.close();
      await server.stop();
    }
  });

  it('is healthy in remote mode (no secret, no Redis) while /flags calls succeed', async () => {
    const app = await startApp({ projectApiKey: fake.projectApiKey, host: fake.url });
    try {
      const { body } = await request(app.getHttpServer()).get('/health').expect(200);
      expect(body.info.posthog_flags).toMatchObject({ role: 'remote', status: 'up' });
      await request(app.getHttpServer())
        .get('/checkout')
        .set('authorization', 'Bearer ann')
        .expect(200);
      expect(fake.counts.flags).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  it('exports Prometheus counters, and never the secret key in /health or metrics', async () => {
    const registry = new Registry();
    const shared = { ...base(), redis: redis.url, keyPrefix: `metrics-${Date.now()}` };
    const leader = await startApp({ ...shared, metrics: { registry } });
    try {
      await healthBecomes(leader, 200);
      for (const user of ['ann', 'ben', 'cat']) {
        await request(leader.getHttpServer())
          .get('/checkout')
          .set('authorization', `Bearer ${user}`)
          .expect(200);
      }
      await request(leader.getHttpServer()).get('/checkout').expect(404);
      await sleep(3 * INTERVAL_MS);
      const text = await registry.metrics();
      expect(text).toMatch(/posthog_flags_definition_fetches_total\{outcome="200"\} [1-9]/);
      expect(text).toMatch(/posthog_flags_definition_fetches_total\{outcome="304"\} [1-9]/);
      expect(text).toMatch(/posthog_flags_lease_events_total\{event="acquired"\} 1/);
      expect(text).toMatch(
        /posthog_flags_evaluations_total\{flag="new-checkout",result="enabled"\} 3/,
      );
      expect(text).toMatch(/posthog_flags_is_leader 1/);
      expect(text).toMatch(/posthog_flags_definitions_age_seconds 0\.\d+/);
      const health = await request(leader.getHttpServer()).get('/health');
      const status = await request(leader.getHttpServer()).get('/flags/status');
      for (const output of [text, health.text, status.text])
        expect(output).not.toContain(fake.secretKey);
    } finally {
      await leader.close();
    }
    expect(await registry.metrics()).not.toContain('posthog_flags_'); // removed on shutdown
  });
});
