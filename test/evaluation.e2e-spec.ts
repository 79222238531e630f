import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { PostHog } from 'posthog-node';
import request from 'supertest';
import {
  FeatureFlagsService,
  POSTHOG_CLIENT,
  type PostHogFlagsModuleOptions,
} from '../src/index.js';
import { createApp } from './app/create-app.js';
import {
  CONSISTENCY_IDS,
  consistencyDefinitions,
  posthogNodeResults,
} from './support/consistency-definitions.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { sharedTestRedis } from './support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startApp(options: PostHogFlagsModuleOptions): Promise<INestApplication> {
  const app = await createApp(options, 'express', { logger: false });
  await app.init();
  return app;
}

describe('evaluation', () => {
  let fake: FakePostHog;
  let redis: { url: string; stop(): Promise<void> };
  const base = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: 100,
  });

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: consistencyDefinitions });
    redis = await sharedTestRedis();
  });
  afterAll(async () => {
    await fake.close();
    await redis.stop();
  });

  it('equals posthog-node’s own results for 1 000 ids, cold and memoized', async () => {
    const app = await startApp(base());
    const flags = app.get(FeatureFlagsService);
    try {
      const ids = CONSISTENCY_IDS;
      const expected = await posthogNodeResults(fake, ids);
      for (const pass of ['cold', 'memoized']) {
        const actual = await Promise.all(
          ids.map(async (id) => [
            await flags.isEnabled('simple-flag', id),
            (await flags.getVariant('multivariate-flag', id)) ?? false,
          ]),
        );
        expect({ pass, actual }).toEqual({ pass, actual: expected });
      }
      const enabled = expected.filter(([simple]) => simple === true).length;
      expect(enabled).toBeGreaterThan(400); // a 45% rollout over 1 000 ids
      expect(enabled).toBeLessThan(500);
    } finally {
      await app.close();
    }
  });

  it('serves the very next request from new definitions once a follower loaded them from Redis', async () => {
    fake.setDefinitions({ flags: [booleanFlag('new-checkout', { rolloutPercentage: 0 })] });
    const shared = { ...base(), redis: redis.url, keyPrefix: `memo-${Date.now()}` };
    const leader = await startApp(shared);
    const follower = await startApp(shared);
    try {
      const followerFlags = follower.get(FeatureFlagsService);
      expect(followerFlags.status().role).toBe('follower');
      for (let i = 0; i < 3; i++) {
        await request(follower.getHttpServer())
          .get('/checkout')
          .set('authorization', 'Bearer ann')
          .expect(404);
      }
      const loadedBefore = followerFlags.status().fetchedAt;
      fake.setDefinitions({ flags: [booleanFlag('new-checkout', { rolloutPercentage: 100 })] });
      while (followerFlags.status().fetchedAt === loadedBefore) await sleep(5);
      await request(follower.getHttpServer())
        .get('/checkout')
        .set('authorization', 'Bearer ann')
        .expect(200);
      expect(followerFlags.status().role).toBe('follower'); // the follower never fetched
    } finally {
      await follower.close();
      await leader.close();
    }
  });

  it('sends $feature_flag_called once per user and value, and none when switched off', async () => {
    fake.setDefinitions({ flags: [booleanFlag('new-checkout')] });
    const sent: Record<string, unknown[]> = {};
    for (const sendFeatureFlagEvents of [true, false]) {
      const app = await startApp({ ...base(), sendFeatureFlagEvents });
      fake.resetCounts();
      for (let i = 0; i < 10; i++) {
        for (const user of ['ann', 'ben']) {
          await request(app.getHttpServer())
            .get('/checkout')
            .set('authorization', `Bearer ${user}`)
            .expect(200);
        }
      }
      await (app.get(POSTHOG_CLIENT) as PostHog).flush();
      sent[String(sendFeatureFlagEvents)] = fake.events
        .filter((e) => e.event === '$feature_flag_called')
        .map((e) => [
          e.distinct_id,
          e.properties.$feature_flag,
          e.properties.$feature_flag_response,
        ])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      await app.close();
    }
    expect(sent).toEqual({
      true: [
        ['ann', 'new-checkout', true],
        ['ben', 'new-checkout', true],
      ],
      false: [],
    });
  });
});
