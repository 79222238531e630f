/**
 * The README's ACL additions for Redis Cluster and Sentinel, proven: a leader and a follower under
 * the base rule plus the listed addition leave every data node's ACL LOG empty; for Cluster, the
 * base rule alone is shown to be refused (so the addition is needed, not decoration).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import request from 'supertest';
import { cacheKeys, projectFingerprint } from '../src/sources/shared/cache-keys.js';
import { FeatureFlagsService, type PostHogFlagsModuleOptions } from '../src/index.js';
import { createApp } from './app/create-app.js';
import { FLAGS_ACL_ADDITIONS, flagsAclRule, flagsReaderAclRule } from './support/acl.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisClusterServers } from './support/redis-cluster.js';
import { RedisServer, sleep } from './support/redis-server.js';
import { RedisSentinelServers } from './support/redis-sentinel.js';

const USER = 'posthog-flags';
const PASSWORD = 'acl-topology-password';
const CLUSTER_ADDITION =
  FLAGS_ACL_ADDITIONS['Redis Cluster (ioredis reads the slot map, names its connections)'];
const checkout = (rollout: number) => ({
  flags: [booleanFlag('new-checkout', { rolloutPercentage: rollout })],
});

async function withAdmin<T>(port: number, use: (admin: Redis) => Promise<T>): Promise<T> {
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    await admin.connect();
    return await use(admin);
  } finally {
    admin.disconnect();
  }
}

/** Creates the user on every node (ACL is per node: neither Cluster nor replication shares it). */
async function createUser(ports: number[], rule: string, user = USER): Promise<void> {
  for (const port of ports) {
    await withAdmin(port, async (admin) => {
      await admin.call('ACL', 'DELUSER', user);
      await admin.call('ACL', 'SETUSER', user, 'on', `>${PASSWORD}`, ...rule.split(' '));
      await admin.call('ACL', 'LOG', 'RESET');
    });
  }
}

/** `ACL LOG` entries of every node, as "port: reason object" strings. */
async function aclLog(ports: number[]): Promise<string[]> {
  const entries: string[] = [];
  for (const port of ports) {
    const log = await withAdmin(port, (admin) => admin.call('ACL', 'LOG') as Promise<unknown[][]>);
    for (const entry of log) {
      const fields = Object.fromEntries(
        Array.from({ length: entry.length / 2 }, (_, i) => [entry[2 * i], entry[2 * i + 1]]),
      ) as Record<string, unknown>;
      entries.push(`${port}: ${String(fields.reason)} ${String(fields.object)}`);
    }
  }
  return entries;
}

async function startApp(options: PostHogFlagsModuleOptions): Promise<INestApplication> {
  const app = await createApp(options, 'express', { logger: false });
  await app.init();
  return app;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const checkoutStatus = async (app: INestApplication) =>
  (await request(app.getHttpServer()).get('/checkout').set('authorization', 'Bearer ann')).status;

/** A leader and a follower: roles, a change carried by the notice, a graceful close of both. */
/** Subscribers of the project's change channel over `ports` (per node in a Cluster: summed). */
async function subscribers(ports: number[], channel: string): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const reply = await withAdmin(port, (admin) => admin.call('PUBSUB', 'NUMSUB', channel));
    total += Number((reply as [string, number])[1]);
  }
  return total;
}

async function runPair(
  fake: FakePostHog,
  ports: number[],
  redis: PostHogFlagsModuleOptions['redis'],
  extra: Partial<PostHogFlagsModuleOptions> = {},
) {
  fake.setDefinitions(checkout(0));
  const options: PostHogFlagsModuleOptions = {
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    redis,
    pollingIntervalMs: 200,
    ...extra,
  };
  const leader = await startApp(options);
  const follower = await startApp({ ...options, pollingIntervalMs: 10_000, leaseTtlMs: 60_000 });
  try {
    const statuses = [leader, follower].map((app) => app.get(FeatureFlagsService).status());
    // The follower polls rarely: the change must come by the notice, so wait for both listeners.
    const channel = cacheKeys(
      options.keyPrefix ?? 'posthog:flags',
      fake.projectApiKey,
    ).changedChannel;
    await until(async () => (await subscribers(ports, channel)) >= 2, 'both subscribed');
    fake.setDefinitions(checkout(100));
    await until(async () => (await checkoutStatus(follower)) === 200, 'the change at the follower');
    return statuses;
  } finally {
    await follower.close();
    await leader.close();
  }
}

describe('the ACL on Redis Cluster and Sentinel', () => {
  let fake: FakePostHog;
  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: checkout(0) });
  });
  afterAll(async () => {
    await fake?.close();
  });

  describe('Cluster (3 masters)', () => {
    let cluster: RedisClusterServers;
    let ports: number[];
    const redis = () => ({
      cluster: cluster.nodes,
      options: { redisOptions: { username: USER, password: PASSWORD } },
    });
    beforeAll(async () => {
      cluster = await RedisClusterServers.start();
      ports = cluster.nodes.map((n) => n.port);
    }, 120_000); // up to three tries at forming the cluster
    afterAll(async () => {
      await cluster?.stop();
    });

    it('works under the base rule plus the Cluster addition, with no ACL LOG entry on any node', async () => {
      await createUser(ports, `${flagsAclRule()} ${CLUSTER_ADDITION}`);
      const statuses = await runPair(fake, ports, redis());
      expect(statuses.map((s) => `${s.role} ${s.redis} ${s.ready}`)).toEqual([
        'leader ready true',
        'follower ready true',
      ]);
      expect(await aclLog(ports)).toEqual([]);
    });

    it('is refused the slot map under the base rule alone (the addition is needed)', async () => {
      await createUser(ports, flagsAclRule());
      const app = await startApp({
        projectApiKey: fake.projectApiKey,
        secretKey: fake.secretKey,
        host: fake.url,
        redis: redis(),
        pollingIntervalMs: 200,
        startupTimeoutMs: 1_000,
      });
      try {
        expect(app.get(FeatureFlagsService).status().redis).toBe('down');
      } finally {
        await app.close();
      }
      expect((await aclLog(ports)).join('\n')).toMatch(/command cluster\|slots/);
    });
  });

  describe('Sentinel (master, replica, sentinel)', () => {
    let sentinel: RedisSentinelServers;
    beforeAll(async () => {
      sentinel = await RedisSentinelServers.start();
    });
    afterAll(async () => {
      await sentinel?.stop();
    });

    it('needs nothing beyond the base rule on the data nodes', async () => {
      const ports = [sentinel.master.port, sentinel.replica.port];
      await createUser(ports, flagsAclRule());
      const statuses = await runPair(fake, ports, {
        sentinels: sentinel.sentinels,
        name: sentinel.masterName,
        username: USER,
        password: PASSWORD,
      });
      expect(statuses.map((s) => `${s.role} ${s.redis} ${s.ready}`)).toEqual([
        'leader ready true',
        'follower ready true',
      ]);
      expect(await aclLog(ports)).toEqual([]);
    });
  });

  describe('one project only, with a custom keyPrefix', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await RedisServer.start();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("the README's shell recipe gives the module's fingerprint", () => {
      const shell = execFileSync('sh', ['-c', 'printf %s "$KEY" | sha256sum | cut -c1-16'], {
        env: { ...process.env, KEY: fake.projectApiKey },
      });
      expect(shell.toString().trim()).toBe(projectFingerprint(fake.projectApiKey));
    });

    it('works confined to ~<keyPrefix>:{<fingerprint>}:*, and the user sees no other project', async () => {
      const fingerprint = projectFingerprint(fake.projectApiKey);
      const rule = flagsAclRule({ keyPrefix: 'myapp:ff', fingerprint });
      expect(rule).toContain(
        `~myapp:ff:{${fingerprint}}:* resetchannels &myapp:ff:{${fingerprint}}:*`,
      );
      await createUser([server.port], rule);
      const statuses = await runPair(
        fake,
        [server.port],
        `redis://${USER}:${PASSWORD}@127.0.0.1:${server.port}`,
        {
          keyPrefix: 'myapp:ff',
        },
      );
      expect(statuses.map((s) => `${s.role} ${s.redis} ${s.ready}`)).toEqual([
        'leader ready true',
        'follower ready true',
      ]);
      expect(await aclLog([server.port])).toEqual([]);
      const user = new Redis({ port: server.port, username: USER, password: PASSWORD });
      try {
        const other = projectFingerprint('phc_another_project');
        await expect(user.hmget(`myapp:ff:{${other}}:meta`, 'h')).rejects.toThrow(/NOPERM/);
        expect(await user.hmget(`myapp:ff:{${fingerprint}}:meta`, 'h')).toHaveLength(1);
      } finally {
        user.disconnect();
      }
    });
  });

  describe('a reader deployment (no secretKey) under the read-only rule', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await RedisServer.start();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("follows another deployment's leader with read-only keys, and no ACL LOG entry", async () => {
      await createUser([server.port], flagsAclRule());
      await createUser([server.port], flagsReaderAclRule(), 'posthog-flags-reader');
      fake.setDefinitions(checkout(0));
      const url = (user: string) => `redis://${user}:${PASSWORD}@127.0.0.1:${server.port}`;
      const base = { projectApiKey: fake.projectApiKey, host: fake.url, pollingIntervalMs: 200 };
      const leader = await startApp({ ...base, secretKey: fake.secretKey, redis: url(USER) });
      const reader = await startApp({ ...base, redis: url('posthog-flags-reader') });
      try {
        expect(reader.get(FeatureFlagsService).status()).toMatchObject({
          role: 'reader',
          redis: 'ready',
          ready: true,
        });
        fake.setDefinitions(checkout(100));
        await until(async () => (await checkoutStatus(reader)) === 200, 'the change at the reader');
      } finally {
        await reader.close();
        await leader.close();
      }
      expect(await aclLog([server.port])).toEqual([]);
      const user = new Redis({
        port: server.port,
        username: 'posthog-flags-reader',
        password: PASSWORD,
      });
      try {
        await expect(user.call('SET', 'posthog:flags:x', '1')).rejects.toThrow(/NOPERM/);
        await expect(user.publish('posthog:flags:{x}:changed', 'x')).rejects.toThrow(/NOPERM/);
      } finally {
        user.disconnect();
      }
    });
  });
});
