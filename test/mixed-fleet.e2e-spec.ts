/**
 * A rolling deploy (and a rollback) across the shared-copy envelope versions: processes built from
 * the previous release (envelope version 1, compiled from its own commit by
 * test/support/previous-release.ts) and processes of this one share one real redis-server and the
 * fake PostHog. Whichever release leads, every process keeps serving and takes every change; a
 * lease handover between releases is not a change (no refetch, no fan-out).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { cacheKeys } from '../src/sources/shared/cache-keys.js';
import { FakePostHog, booleanFlag, manyFlags } from './support/fake-posthog.js';
import { previousReleaseWorker } from './support/previous-release.js';
import { redisClientKind } from './support/redis-client-kind.js';
import { RedisServer } from './support/redis-server.js';
import { testClient } from './faults/support-redis-watch.js';
import { WorkerProcess } from './support/worker-process.js';

const INTERVAL_MS = 200;
const definitions = (on: boolean) => ({
  flags: [booleanFlag('new-checkout', { rolloutPercentage: on ? 100 : 0 }), ...manyFlags(200)],
});

interface Member {
  name: string;
  worker: WorkerProcess;
}

describe(`previous-release processes beside this release's (client: ${redisClientKind()})`, () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let previousEntry: string;
  const members: Member[] = [];

  const options = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    redis: redis.url,
    pollingIntervalMs: INTERVAL_MS,
    leaseTtlMs: 10_000, // long: a handover below comes from a release on shutdown, not from expiry
  });

  async function start(name: string, release: 'previous' | 'this'): Promise<Member> {
    const entry = release === 'previous' ? previousEntry : undefined;
    const member = { name, worker: await WorkerProcess.start(options(), { entry }) };
    members.push(member);
    return member;
  }

  async function stop(member: Member): Promise<void> {
    await member.worker.stop();
    members.splice(members.indexOf(member), 1);
  }

  /** Resolves once every running process serves the gate as `on` (and is ready); fails after 10 s. */
  async function everyoneServes(on: boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all(
        members.map(async ({ name, worker }) => {
          const [status, checkout] = await Promise.all([
            worker.status(),
            worker.get('/checkout', 'alice'),
          ]);
          return `${name}: ${status.role} ready=${status.ready} checkout=${checkout.status}`;
        }),
      );
      const expected = on ? 'checkout=200' : 'checkout=404';
      if (seen.every((s) => s.includes('ready=true') && s.endsWith(expected))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`not every process serves new-checkout=${on}:\n${seen.join('\n')}`);
  }

  async function leaderName(): Promise<string | undefined> {
    const roles = await Promise.all(members.map(async (m) => (await m.worker.status()).role));
    return members.find((_, i) => roles[i] === 'leader')?.name;
  }

  /** Whether a process named like `pattern` leads within 10 s. */
  async function leaderMatching(pattern: RegExp): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (pattern.test((await leaderName()) ?? '')) return true;
      await sleep(50);
    }
    return false;
  }

  beforeAll(async () => {
    previousEntry = previousReleaseWorker(); // compiled once per commit (~15 s the first time)
    fake = await FakePostHog.start({ definitions: definitions(false) });
    redis = await RedisServer.start();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(members.map((m) => m.worker.kill()));
    await fake.close();
    await redis.stop();
  });

  it('keeps every process serving through changes whichever release leads, and a handover is no change', async () => {
    const keys = cacheKeys('posthog:flags', fake.projectApiKey);
    const client = testClient(redis.url);
    try {
      // Before the deploy: the previous release leads and writes the JSON copy only.
      const oldLeader = await start('previous-1', 'previous');
      await everyoneServes(false);
      expect(await leaderName()).toBe('previous-1');
      await start('this-1', 'this');
      await start('this-2', 'this');
      await everyoneServes(false);
      expect(await client.exists(keys.definitionsCompressed)).toBe(0);

      // A change while the previous release leads: this release reads the JSON copy.
      fake.setDefinitions(definitions(true));
      await everyoneServes(true);

      // The old leader is replaced: this release leads. Same content, same hash: nothing is
      // announced, nobody re-reads. The new leader downloads once (its SDK has no ETag yet, and
      // the compressed copy is missing) and writes the compressed copy beside the JSON one.
      const hashBefore = await client.hget(keys.meta, 'h');
      const fullBefore = fake.counts.definitions200;
      await stop(oldLeader);
      expect(await leaderMatching(/^this-/)).toBe(true);
      await sleep(5 * INTERVAL_MS);
      expect(fake.counts.definitions200).toBeLessThanOrEqual(fullBefore + 1);
      expect(await client.hget(keys.meta, 'h')).toBe(hashBefore);
      expect(await client.hget(keys.meta, 'z')).toBe(hashBefore);

      // A previous-release process starts while this release leads (a pod not yet replaced, or a
      // rollback): it finds the JSON copy and serves.
      await start('previous-2', 'previous');
      await everyoneServes(true);

      // A change while this release leads: both copies are written, each release reads its own.
      fake.setDefinitions(definitions(false));
      await everyoneServes(false);
      expect(await client.exists(keys.definitionsCompressed)).toBe(1);
      expect(await client.hget(keys.meta, 'z')).toBe(await client.hget(keys.meta, 'h'));

      // Rolled back: this release's processes go; the previous release leads again, and writes
      // only the JSON copy, leaving the compressed one behind. A process of this release that
      // starts now reads the JSON copy (the compressed one holds older content), and serves.
      for (const member of members.filter((m) => m.name.startsWith('this-'))) await stop(member);
      expect(await leaderMatching(/^previous-2$/)).toBe(true);
      fake.setDefinitions(definitions(true));
      await everyoneServes(true);
      expect(await client.hget(keys.meta, 'z')).not.toBe(await client.hget(keys.meta, 'h'));
      await start('this-3', 'this');
      await everyoneServes(true);

      for (const { worker } of members) expect((await worker.status()).lastError).toBeNull();
    } finally {
      client.disconnect();
    }
  }, 90_000);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
