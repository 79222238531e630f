import type { Redis } from 'ioredis';
import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { checkoutDefinitions, killAll } from './support-kit.js';
import { testClient } from './support-redis-watch.js';

/** What most fault specs share: a fake PostHog accepting one key per process, and a private Redis. */
export interface FaultServers {
  fake: FakePostHog;
  redis: RedisServer;
  /** A test-side client of that Redis, for inspecting keys. */
  client: Redis;
}

export async function startFaultServers(keys: string[]): Promise<FaultServers> {
  const [fake, redis] = await Promise.all([
    FakePostHog.start({ definitions: checkoutDefinitions(true, 'v1'), extraSecretKeys: keys }),
    RedisServer.start(),
  ]);
  return { fake, redis, client: testClient(redis.url) };
}

/** Kills every worker the spec started, then the servers. */
export async function stopFaultServers({ fake, redis, client }: FaultServers): Promise<void> {
  await killAll();
  client.disconnect();
  await redis.stop();
  await fake.close();
}
