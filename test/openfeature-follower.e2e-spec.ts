import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { FakePostHog, booleanFlag, multivariateFlag } from './support/fake-posthog.js';
import { RedisServer } from './support/redis-server.js';
import { WorkerProcess } from './support/worker-process.js';

const INTERVAL_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ProviderEventMessage {
  type: 'openfeature';
  event: string;
  at: number;
  flagsChanged?: string[];
  message?: string;
}

const pricing = multivariateFlag('pricing-experiment', [
  { key: 'control', rolloutPercentage: 50 },
  { key: 'test', rolloutPercentage: 50 },
]);
const before = {
  flags: [
    booleanFlag('new-checkout', { rolloutPercentage: 0 }),
    booleanFlag('legacy-banner'),
    pricing,
  ],
};
// new-checkout changed, legacy-banner removed, fresh-flag added, pricing-experiment untouched.
const after = {
  flags: [
    booleanFlag('new-checkout', { rolloutPercentage: 100 }),
    pricing,
    booleanFlag('fresh-flag'),
  ],
};

describe('OpenFeature provider in a follower process (@openfeature/nestjs-sdk, real Redis)', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let leader: WorkerProcess;
  let follower: WorkerProcess;
  const events: ProviderEventMessage[] = [];

  const options = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    redis: redis.url,
    pollingIntervalMs: INTERVAL_MS,
  });
  const checkout = async (user: string) => {
    const response = await fetch(`${follower.url}/openfeature/new-checkout`, {
      headers: { 'x-user-id': user },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: before });
    redis = await RedisServer.start();
    // The example app leads; the OpenFeature app starts once a leader holds the lease.
    leader = await WorkerProcess.start(options());
    const deadline = Date.now() + 10_000;
    while ((await leader.status()).role !== 'leader' && Date.now() < deadline) await sleep(50);
    follower = await WorkerProcess.start(options(), { entry: 'openfeature-worker.js' });
    follower.child.on('message', (message: { type?: string }) => {
      if (message?.type === 'openfeature') events.push(message as ProviderEventMessage);
    });
    follower.child.send({ type: 'openfeature-listen' });
  });
  afterAll(async () => {
    await Promise.all([leader?.kill(), follower?.kill()]);
    await fake.close();
    await redis.stop();
  });

  it('answers @BooleanFeatureFlag from the shared definitions, and gets CONFIGURATION_CHANGED with the changed keys', async () => {
    expect(await leader.status()).toMatchObject({ role: 'leader' });
    const status = await follower.status();
    expect(status).toMatchObject({ role: 'follower', ready: true, flagCount: 3 });
    expect(await checkout('user-1')).toEqual({
      status: 200,
      body: expect.objectContaining({
        flagKey: 'new-checkout',
        value: false,
        variant: 'false',
        reason: 'DEFAULT',
      }),
    });
    await sleep(3 * INTERVAL_MS); // polls that change nothing: no event
    const configurationChanged = () =>
      events.filter((e) => e.event === 'PROVIDER_CONFIGURATION_CHANGED');
    expect(configurationChanged()).toEqual([]); // the first load is not a change
    expect(events.map((e) => e.event)).toContain('PROVIDER_READY');

    const changedAt = Date.now();
    fake.setDefinitions(after);
    const deadline = changedAt + 5_000;
    while (configurationChanged().length === 0 && Date.now() < deadline) await sleep(20);
    const [changed] = configurationChanged();
    expect(changed?.flagsChanged).toEqual(['fresh-flag', 'legacy-banner', 'new-checkout']);
    console.log(
      `OpenFeature follower: CONFIGURATION_CHANGED ${changed.at - changedAt} ms after the change at the fake PostHog (poll interval ${INTERVAL_MS} ms), flagsChanged ${JSON.stringify(changed.flagsChanged)}`,
    );
    expect(await checkout('user-1')).toMatchObject({
      body: { value: true, variant: 'true', reason: 'TARGETING_MATCH' },
    });
    await sleep(3 * INTERVAL_MS);
    expect(configurationChanged()).toHaveLength(1); // once per change, not per poll
    expect((await follower.status()).role).toBe('follower'); // it never fetched: Redis told it
    expect(follower.output).not.toContain(fake.secretKey);
  });
});
