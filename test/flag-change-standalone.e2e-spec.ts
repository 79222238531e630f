// Standalone mode (no Redis): the process polls the fake PostHog itself through the real posthog-node.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  FeatureFlagsService,
  OnFlagChange,
  PostHogFlagsModule,
  type FlagsChangeEvent,
} from '../src/index.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';

const INTERVAL_MS = 150;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
class Listener {
  readonly calls: FlagsChangeEvent[] = [];

  @OnFlagChange('x')
  xChanged(event: FlagsChangeEvent) {
    this.calls.push(event);
  }
}

describe('flag change events in standalone mode', () => {
  let fake: FakePostHog;
  let app: INestApplication;
  let listener: Listener;

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: { flags: [booleanFlag('x', { rolloutPercentage: 0 }), booleanFlag('y')] },
    });
    const moduleRef = await Test.createTestingModule({
      imports: [
        PostHogFlagsModule.forRoot({
          projectApiKey: fake.projectApiKey,
          secretKey: fake.secretKey,
          host: fake.url,
          pollingIntervalMs: INTERVAL_MS,
        }),
      ],
      providers: [Listener],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    listener = app.get(Listener);
    const deadline = Date.now() + 5_000;
    while (!app.get(FeatureFlagsService).status().ready && Date.now() < deadline) await sleep(20);
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('fires nothing for the first load, nor for a response with the same flags', async () => {
    expect(app.get(FeatureFlagsService).status().role).toBe('standalone');
    // New bytes (a new ETag, so a 200 the SDK applies), the same flag definitions.
    fake.setDefinitions({ ...fake.definitions, unrelated_field: 1 });
    const before = fake.counts.definitions200;
    while (fake.counts.definitions200 === before) await sleep(20);
    await sleep(2 * INTERVAL_MS);
    expect(listener.calls).toEqual([]);
  });

  it('fires once with the diff when a flag changes', async () => {
    fake.setDefinitions({
      flags: [booleanFlag('x', { rolloutPercentage: 100 }), booleanFlag('y')],
    });
    const deadline = Date.now() + 3_000;
    while (listener.calls.length === 0 && Date.now() < deadline) await sleep(20);
    await sleep(3 * INTERVAL_MS);
    expect(listener.calls).toHaveLength(1);
    expect(listener.calls[0].keys).toEqual(['x']);
    expect(listener.calls[0].changes[0]).toMatchObject({
      key: 'x',
      kind: 'changed',
      previous: { filters: { groups: [{ rollout_percentage: 0 }] } },
      current: { filters: { groups: [{ rollout_percentage: 100 }] } },
    });
    expect(await app.get(FeatureFlagsService).isEnabled('x', 'user-1')).toBe(true);
  });
});
