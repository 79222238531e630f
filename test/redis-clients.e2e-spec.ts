/**
 * The module's view of every client library it accepts (`FlagsRedis` over ioredis 5, ioredis 6 in
 * RESP2 and RESP3, node-redis 5 (RESP2) and 6 (RESP3)), against a real redis-server: the same
 * replies whatever the client, scripts reloaded after SCRIPT FLUSH, pub/sub across a restart,
 * bounded connect/close with Redis down, and an app's client left as the app made it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { FlagsRedis } from '../src/redis/flags-redis.js';
import { adaptRedisClient } from '../src/redis/redis-client.factory.js';
import { scriptSha } from '../src/redis/script-sha.js';
import { FeatureFlagsService } from '../src/index.js';
import { createApp } from './app/create-app.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { freePort } from './support/free-port.js';
import {
  createAppRedisClient,
  REDIS_CLIENT_KINDS,
  type AppRedisClient,
} from './support/redis-client-kind.js';
import { RedisServer } from './support/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KINDS = REDIS_CLIENT_KINDS.filter((kind) => kind !== 'module');
const PROTOCOL: Record<(typeof KINDS)[number], number> = {
  ioredis5: 2,
  'ioredis6-resp2': 2,
  'ioredis6-resp3': 3,
  'node-redis5': 2,
  'node-redis6': 3,
};
// A table with a number, a string and a Lua nil in the middle (RESP3 turns nil into its Null).
const SCRIPT = `return { tonumber(ARGV[1]) + 1, redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2]) }`;

describe.each(KINDS)('FlagsRedis over %s', (kind) => {
  let server: RedisServer;
  let admin: Redis;
  let app: AppRedisClient;
  let redis: FlagsRedis;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.url);
    app = await createAppRedisClient(server.url, kind);
    redis = adaptRedisClient(app.client);
    if (!(await redis.connect(5_000))) throw new Error(`${kind}: no connection to ${server.url}`);
  });
  afterAll(async () => {
    await app.close();
    admin.disconnect();
    await server.stop();
  });

  it(`speaks RESP${PROTOCOL[kind]} and reads replies in one shape`, async () => {
    const clients = String(await admin.client('LIST'));
    const resp = [...clients.matchAll(/resp=(\d)/g)].map((m) => Number(m[1]));
    expect(resp).toContain(PROTOCOL[kind]); // the client under test, as Redis sees it
    await admin.hset('h', 'a', '1', 'b', 'two');
    await admin.set('s', 'hello');
    expect(await redis.hmget('h', ['a', 'missing', 'b'])).toEqual(['1', null, 'two']);
    expect(await redis.get('s')).toBe('hello');
    expect(await redis.get('missing')).toBeNull();
    expect(await redis.strlen('s')).toBe(5);
    expect(await redis.exists('s')).toBe(1);
    expect(await redis.exists('missing')).toBe(0);
    expect(await redis.runScript(SCRIPT, ['s', 'h'], [41])).toEqual([42, 'hello', 1]);
  });

  it('writes bytes through a script and reads them back unchanged (the compressed copy is binary)', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 151) % 256)); // not UTF-8
    const set = `redis.call('SET', KEYS[1], ARGV[1]) return 1 -- ${kind}`;
    expect(await redis.runScript(set, ['bin'], [bytes])).toBe(1);
    expect(await redis.getBuffer('bin')).toEqual(bytes);
    expect(await admin.getBuffer('bin')).toEqual(bytes); // as Redis holds them
    expect(await redis.strlen('bin')).toBe(bytes.length);
    expect(await redis.getBuffer('missing')).toBeNull();
    expect(await redis.get('s')).toBe('hello'); // other replies stay strings
  });

  it('loads a script again after SCRIPT FLUSH (the NOSCRIPT path)', async () => {
    const script = `${SCRIPT} -- ${kind} flush`;
    await redis.runScript(script, ['s', 'h'], [1]);
    await admin.script('FLUSH');
    expect(await admin.script('EXISTS', scriptSha(script))).toEqual([0]);
    expect(await redis.runScript(script, ['s', 'h'], [1])).toEqual([2, 'hello', 1]);
    expect(await admin.script('EXISTS', scriptSha(script))).toEqual([1]);
  });

  it('receives notices on its own connection, and again after redis-server restarts', async () => {
    const received: string[] = [];
    const subscription = redis.subscribe(`${kind}:changed`, (message) => received.push(message));
    await subscription.ready;
    await admin.publish(`${kind}:changed`, 'before');
    await until(() => received.includes('before'), 3_000);

    await server.restart();
    // The app's client and the subscriber reconnect by themselves; publish until one arrives.
    const deadline = Date.now() + 15_000;
    while (!received.includes('after') && Date.now() < deadline) {
      await admin.publish(`${kind}:changed`, 'after').catch(() => 0);
      await sleep(200);
    }
    expect(received).toContain('after');
    const closing = Date.now();
    await subscription.close(1_000);
    expect(Date.now() - closing).toBeLessThan(1_500);
    await admin.publish(`${kind}:changed`, 'closed');
    await sleep(200);
    expect(received).not.toContain('closed');
    expect(await redis.connect(5_000)).toBe(true); // the app's client is back too
    expect(await redis.get('missing')).toBeNull();
  });

  it('connects and closes within its bounds while Redis is down', async () => {
    const down = await createAppRedisClient(`redis://127.0.0.1:${await freePort()}`, kind);
    const view = adaptRedisClient(down.client);
    let started = Date.now();
    expect(await view.connect(1_000)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_500);
    started = Date.now();
    await view.close(500);
    expect(Date.now() - started).toBeLessThan(1_000);
    await down.close();
  });
});

// An ioredis client queues a command while a connection attempt is under way, up to its own retry
// limit (the module bounds its wait by redisCommandTimeoutMs, and its scripts are fenced); a
// node-redis client is known not ready between attempts, so the command fails at once.
describe.each(['node-redis5', 'node-redis6'] as const)('FlagsRedis over %s, Redis down', (kind) => {
  it('fails a command at once rather than queueing it', async () => {
    const down = await createAppRedisClient(`redis://127.0.0.1:${await freePort()}`, kind);
    const view = adaptRedisClient(down.client);
    await view.connect(1_000);
    const started = Date.now();
    await expect(view.get('k')).rejects.toThrow('not ready');
    expect(Date.now() - started).toBeLessThan(500);
    await down.close();
  });
});

describe.each(KINDS)('an app that hands the module its %s client', (kind) => {
  let fake: FakePostHog;
  let server: RedisServer;

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: { flags: [booleanFlag('new-checkout', { rolloutPercentage: 100 })] },
    });
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await fake.close();
    await server.stop();
  });

  it('gets it back open and unchanged after the app shuts down', async () => {
    const app = await createAppRedisClient(server.url, kind);
    await until(() => stateOf(app.client).ready, 5_000);
    const before = stateOf(app.client);
    const nest = await createApp(
      {
        projectApiKey: fake.projectApiKey,
        secretKey: fake.secretKey,
        host: fake.url,
        redis: { client: app.client },
        pollingIntervalMs: 200,
      },
      'express',
      { logger: false },
    );
    await nest.init();
    const flags = nest.get(FeatureFlagsService);
    expect(flags.status()).toMatchObject({ role: 'leader', redis: 'ready', ready: true });
    await nest.close();

    // Still open, on database 0, unnamed, configured as the app made it: the module selected,
    // named, reconfigured and closed nothing.
    expect(stateOf(app.client)).toEqual(before);
    const command = (...args: string[]) =>
      kind.startsWith('node-redis') ? app.client.sendCommand(args) : app.client.call(...args);
    expect(await command('PING')).toBe('PONG');
    expect(await command('CLIENT', 'GETNAME')).toBeNull();
    await command('SET', `${kind}:mine`, 'yes');
    const checker = new Redis(server.url);
    expect(await checker.get(`${kind}:mine`)).toBe('yes'); // written to database 0
    checker.disconnect();
    await app.close();
  });
});

/** What an app would notice changed on its client: readiness and (ioredis) its options. */
function stateOf(client: any): { ready: boolean; options?: string } {
  if (typeof client.isReady === 'boolean') return { ready: client.isReady };
  return { ready: client.status === 'ready', options: JSON.stringify(client.options) };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}
