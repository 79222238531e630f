import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { BlackHoleServer } from './black-hole-server.js';
import { freePort } from './free-port.js';
import { RedisClusterServers } from './redis-cluster.js';
import { RedisSentinelServers } from './redis-sentinel.js';
import { RedisServer, sharedTestRedis, sleep } from './redis-server.js';

let clients: Array<Redis | Cluster> = [];

/** Closed before the servers stop, so no client is left retrying against a dead port. */
function closeClients(): void {
  clients.forEach((c) => c.disconnect());
  clients = [];
}

/** A client that fails fast instead of retrying. */
function client(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

async function elapsed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = Date.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ms: Date.now() - start, error };
}

describe('freePort', () => {
  it('returns a bindable port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65_536);
  });
});

describe('RedisServer', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    closeClients();
    await server.stop();
  });

  it('answers SET/GET', async () => {
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.pid).toEqual(expect.any(Number));
    const redis = client(server.url);
    await redis.set('k', 'v');
    expect(await redis.get('k')).toBe('v');
  });

  it('refuses connections after kill() and answers, empty, on the same port after restart()', async () => {
    const port = server.port;
    await server.kill();
    expect(server.pid).toBeUndefined();
    await expect(client(server.url, { lazyConnect: true }).connect()).rejects.toThrow(
      /ECONNREFUSED|Connection is closed/,
    );

    await server.restart();
    expect(server.port).toBe(port);
    const redis = client(server.url);
    expect(await redis.dbsize()).toBe(0);
    await redis.set('k', 'again');
    expect(await redis.get('k')).toBe('again');
  });

  it('times commands out while paused and answers once resumed', async () => {
    const redis = client(server.url, { commandTimeout: 200 });
    await redis.ping();
    server.pause();
    try {
      const { ms, error } = await elapsed(redis.get('k'));
      expect(String(error)).toMatch(/timed out/i);
      expect(ms).toBeLessThan(1_000);
    } finally {
      server.resume();
    }
    expect(await redis.get('k')).toBe('again');
  });

  it('stops idempotently, even while paused', async () => {
    const other = await RedisServer.start();
    other.pause();
    await Promise.all([other.stop(), other.stop()]);
    await other.stop();
    expect(other.pid).toBeUndefined();
  });

  it('rejects with the output tail when redis-server cannot start', async () => {
    await expect(RedisServer.start({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
      /redis-server on port \d+ exited[\s\S]*no-such-option/,
    );
  });
});

describe('sharedTestRedis', () => {
  it('uses REDIS_URL when set, else starts a private server', async () => {
    const saved = process.env.REDIS_URL;
    try {
      process.env.REDIS_URL = 'redis://redis.example:6379';
      const shared = await sharedTestRedis();
      expect(shared.url).toBe('redis://redis.example:6379');
      await shared.stop();

      delete process.env.REDIS_URL;
      const own = await sharedTestRedis();
      expect(await client(own.url).ping()).toBe('PONG');
      await own.stop();
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  });
});

describe('BlackHoleServer', () => {
  let hole: BlackHoleServer;
  beforeAll(async () => {
    hole = await BlackHoleServer.start();
  });
  afterAll(async () => {
    closeClients();
    await hole.close();
  });

  it('accepts connections but never answers, so a bounded client fails in time', async () => {
    const redis = client(hole.url, { connectTimeout: 300, commandTimeout: 300 });
    const { ms, error } = await elapsed(redis.get('k'));
    expect(error).toBeInstanceOf(Error);
    expect(ms).toBeLessThan(1_500);
    expect(hole.connections).toBeGreaterThanOrEqual(1);
  });
});

describe('RedisClusterServers', () => {
  let cluster: RedisClusterServers;
  let redis: Cluster;
  beforeAll(async () => {
    cluster = await RedisClusterServers.start();
    redis = new Cluster(cluster.nodes);
    redis.on('error', () => undefined);
    clients.push(redis);
  }, 120_000); // up to three tries at forming the cluster
  afterAll(async () => {
    closeClients();
    await cluster?.stop();
  });

  it('spreads keys over all three masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    await Promise.all(keys.map((k) => redis.set(k, k)));
    expect(await Promise.all(keys.map((k) => redis.get(k)))).toEqual(keys);
    const sizes = await Promise.all(
      cluster.nodes.map(({ port }) => client(`redis://127.0.0.1:${port}`).dbsize()),
    );
    expect(sizes.every((n) => n > 0)).toBe(true);
  });

  it('runs a script over two keys sharing the {x} hash tag', async () => {
    const result = await redis.eval(
      "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('MGET', KEYS[1], KEYS[2])",
      2,
      'a:{x}',
      'b:{x}',
      'both',
    );
    expect(result).toEqual(['both', 'both']);
  });
});

describe('RedisSentinelServers', () => {
  let sentinel: RedisSentinelServers;
  beforeAll(async () => {
    sentinel = await RedisSentinelServers.start();
  });
  afterAll(async () => {
    closeClients();
    await sentinel.stop();
  });

  it('fails over to the replica, and a Sentinel client follows', async () => {
    const redis = new Redis({ sentinels: sentinel.sentinels, name: sentinel.masterName });
    redis.on('error', () => undefined); // ioredis reports a re-resolve through one Sentinel as an error
    clients.push(redis);
    await redis.set('before', '1');
    expect(await sentinel.currentMasterPort()).toBe(sentinel.master.port);

    await sentinel.failover();
    expect(await sentinel.currentMasterPort()).toBe(sentinel.replica.port);
    expect((await client(sentinel.master.url).call('ROLE')) as string[]).toContain('slave');

    // The old master dropped its clients; allow the reconnect through Sentinel.
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        await redis.set('after', '1');
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
    const promoted = client(sentinel.replica.url);
    expect(await promoted.mget('before', 'after')).toEqual(['1', '1']);
  });
});
