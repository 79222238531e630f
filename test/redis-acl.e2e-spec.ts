/**
 * The README's least-privilege ACL, proven: a fleet of 3 real processes under exactly that user
 * leads, follows, carries a change, records a quota limit and hands the lease over on shutdown, and
 * Redis's own ACL LOG records no denial. Then the user is shown to be confined (the check can fail).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { cacheKeys } from '../src/sources/shared/cache-keys.js';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { FLAGS_ACL_ADDITIONS, flagsAclRule, flagsReaderAclRule } from './support/acl.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisServer, sleep } from './support/redis-server.js';
import { WorkerProcess } from './support/worker-process.js';

const INTERVAL_MS = 200;
const USER = 'posthog-flags';
const PASSWORD = 'acl-test-password';

const definitions = (on: boolean) => ({
  flags: [booleanFlag('new-checkout', { rolloutPercentage: on ? 100 : 0 })],
});

async function waitFor<T>(
  probe: () => Promise<T | false>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!last && Date.now() < deadline) {
    await sleep(50);
    last = await probe();
  }
  if (!last) throw new Error(`timed out waiting for ${what}`);
  return last as T;
}

describe('a fleet under the README ACL (no NOPERM)', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let admin: Redis;
  let workers: WorkerProcess[] = [];
  const stopped: WorkerProcess[] = [];

  const options = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    redis: `redis://${USER}:${PASSWORD}@${redis.host}:${redis.port}`,
    pollingIntervalMs: INTERVAL_MS,
    leaseTtlMs: 10_000, // long: the handover below must come from the release
  });
  const statuses = () => Promise.all(workers.map((w) => w.status()));
  const leaders = async () => {
    const all = await statuses();
    return workers.filter((_, i) => all[i].role === 'leader');
  };

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: definitions(false) });
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', USER, 'on', `>${PASSWORD}`, ...flagsAclRule().split(' '));
    await admin.call('ACL', 'LOG', 'RESET');
    workers = await Promise.all([0, 1, 2].map(() => WorkerProcess.start(options())));
  });
  afterAll(async () => {
    await Promise.all([...workers, ...stopped].map((w) => w.kill()));
    admin?.disconnect();
    await fake?.close();
    await redis?.stop();
  });

  it('is the rule the README shows', () => {
    const readme = readFileSync('README.md', 'utf8');
    const shown = readme.split('\n').filter((line) => line.startsWith('ACL SETUSER '));
    expect(shown).toEqual([
      `ACL SETUSER ${USER} on >••••••• ${flagsAclRule()}`,
      `ACL SETUSER ${USER}-reader on >••••••• ${flagsReaderAclRule()}`,
    ]);
    for (const addition of Object.values(FLAGS_ACL_ADDITIONS)) {
      expect(readme).toContain(`| \`${addition.replaceAll('|', '\\|')}\` |`);
    }
  });

  it('elects one leader; the others follow', async () => {
    const all = await waitFor(async () => {
      const s = await statuses();
      return s.every((x) => x.ready && x.redis === 'ready') && s;
    }, 'a ready fleet');
    expect(all.map((s) => s.role as string).sort((a, b) => a.localeCompare(b))).toEqual([
      'follower',
      'follower',
      'leader',
    ]);
    // Each process listens for change notices under the same user.
    const channel = cacheKeys('posthog:flags', fake.projectApiKey).changedChannel;
    await waitFor(async () => {
      const [, count] = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
      return count === 3;
    }, 'three change subscribers');
  });

  it('carries a change to every process', async () => {
    fake.setDefinitions(definitions(true));
    const served = await waitFor(
      async () =>
        (await Promise.all(workers.map((w) => w.get('/checkout', 'alice')))).every(
          (r) => r.status === 200,
        ),
      'the change everywhere',
    );
    expect(served).toBe(true);
    const flags = await Promise.all(
      workers.map(async (w) => (await w.get('/flags/me', 'bob')).body),
    );
    for (const body of flags) expect(body.flags['new-checkout']).toBe(true);
  });

  it('records a quota limit for everyone, and recovers', async () => {
    fake.setFault({ kind: 'status', status: 402 });
    const limited = await waitFor(async () => {
      const all = await statuses();
      return all.every((s) => s.quotaLimited) && all;
    }, 'quotaLimited');
    expect(limited.map((s) => s.role as string).sort((a, b) => a.localeCompare(b))).toEqual([
      'follower',
      'follower',
      'leader',
    ]);
    fake.setFault(undefined);
    const recovered = await waitFor(
      async () => (await statuses()).every((s) => !s.quotaLimited && s.flagCount === 1),
      'recovery',
    );
    expect(recovered).toBe(true);
  });

  it('hands the lease over on graceful shutdown (compare-and-delete, release notice)', async () => {
    const [leader] = await leaders();
    const at = Date.now();
    expect(await leader.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    workers = workers.filter((w) => w !== leader);
    stopped.push(leader);
    await waitFor(async () => (await leaders()).length === 1, 'a new leader');
    expect(Date.now() - at).toBeLessThan(5_000); // the lease TTL is 10 s
  });

  it('left nothing in ACL LOG and no NOPERM in any process output', async () => {
    for (const worker of workers) {
      await worker.stop(); // QUIT on close is covered too
      stopped.push(worker);
    }
    workers = [];
    const log = (await admin.call('ACL', 'LOG')) as unknown[];
    expect(log).toEqual([]);
    for (const worker of stopped) expect(worker.output).not.toMatch(/NOPERM|no permissions/i);
    expect(stopped).toHaveLength(3);
  });

  it('confines the user: other keys, channels and commands are refused, and ACL LOG sees it', async () => {
    const user = new Redis({
      host: redis.host,
      port: redis.port,
      username: USER,
      password: PASSWORD,
    });
    try {
      await expect(user.get('sessions:1')).rejects.toThrow(/NOPERM/);
      await expect(user.publish('other-channel', 'x')).rejects.toThrow(/NOPERM/);
      await expect(user.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
      await expect(user.call('KEYS', 'posthog:flags:*')).rejects.toThrow(/NOPERM/);
      expect(await user.hmget('posthog:flags:{x}:meta', 'h')).toEqual([null]);
    } finally {
      user.disconnect();
    }
    const log = (await admin.call('ACL', 'LOG')) as unknown[];
    expect(log.length).toBeGreaterThanOrEqual(4);
  });
});
