/**
 * Fault cases 1–3: Redis refusing connections at boot, black-holed at boot, killed mid-run under
 * load and restarted. Real worker processes, a real redis-server, the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlackHoleServer } from '../support/black-hole-server.js';
import { FakePostHog } from '../support/fake-posthog.js';
import { freePort } from '../support/free-port.js';
import { RedisServer } from '../support/redis-server.js';
import {
  LoadLoop,
  UNHANDLED,
  checkoutDefinitions,
  definitionsRequestsBy,
  fleetOptions,
  httpGet,
  keysOf,
  killAll,
  record,
  secretKeys,
  sharedModeOf,
  sleep,
  startFleet,
  startWorker,
  statusesOf,
  waitUntil,
  type FleetWorker,
} from './support-kit.js';
import { expectNoSecretInOutputs } from './support-secrets.js';
import { envelopeHash, testClient } from './support-redis-watch.js';

const INTERVAL_MS = 200;
/** The most a Redis client waits between reconnect attempts after a few seconds of outage. */
const RECONNECT_BACKOFF_MS = 500;
/** A boot that waits for nothing may still be this much slower than its control on 2 busy cores. */
const BOOT_SLACK_MS = 1_500;

describe('fault injection: Redis', () => {
  let fake: FakePostHog;
  const keys = secretKeys('redis', 12);
  const servers: RedisServer[] = [];
  let blackHole: BlackHoleServer | undefined;

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: checkoutDefinitions(true, 'v1'),
      extraSecretKeys: keys,
    });
  });
  afterAll(async () => {
    await killAll();
    await blackHole?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await fake.close();
  });

  /** A worker polling PostHog alone (no Redis at all): the boot time to compare against. */
  const control = (name: string, key: string) =>
    startWorker(name, fleetOptions(fake, undefined, 'faults-control')(key));

  it('case 1: Redis refusing connections at boot — every process boots, evaluates, reports redis down, then joins Redis', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const options = fleetOptions(fake, url, 'faults-c1', {
      pollingIntervalMs: INTERVAL_MS,
      leaseTtlMs: 1_000,
      startupTimeoutMs: 5_000,
    });
    const [baseline, ...fleet] = await Promise.all([
      control('c1-control', keys[0]),
      startWorker('c1-0', options(keys[1])),
      startWorker('c1-1', options(keys[2])),
    ]);
    // At once after boot: ready, flags evaluated, Redis reported down.
    const statuses = await statusesOf(fleet);
    const checkouts = await Promise.all(fleet.map((w) => httpGet(w.worker, '/checkout', 'alice')));
    const pollStart = Date.now();
    await sleep(5 * INTERVAL_MS);
    const alonePolls = fleet.map((w) => definitionsRequestsBy(fake, w.secretKey, pollStart).length);

    // Redis comes up: the processes join the shared mode by themselves.
    const upAt = Date.now();
    const redis = await RedisServer.start({ port });
    servers.push(redis);
    const joined = await waitUntil(() => sharedModeOf(fleet), {
      timeoutMs: 10_000,
      what: 'one leader and one follower once Redis is up',
    });
    const joinMs = Date.now() - upAt;

    const bootMs = fleet.map((w) => w.bootMs);
    record('1', 'Redis refuses connections at boot', {
      bootMs,
      controlBootMs: baseline.bootMs,
      extraBootMs: Math.max(...bootMs) - baseline.bootMs,
      checkoutStatuses: checkouts.map((c) => c.status),
      statusRedis: statuses.map((s) => s.redis),
      roles: statuses.map((s) => s.role),
      fetchesAlonePer5Intervals: alonePolls,
      joinSharedModeMs: joinMs,
    });
    for (const w of fleet) {
      // No wait for Redis: a refused connection is known at once (the startup timeout is 5 s).
      expect(w.bootMs).toBeLessThan(baseline.bootMs + BOOT_SLACK_MS);
    }
    for (const s of statuses) {
      expect(s).toMatchObject({ ready: true, redis: 'down', role: 'standalone', flagCount: 2 });
    }
    expect(checkouts.map((c) => c.status)).toEqual([200, 200]);
    for (const n of alonePolls) {
      expect(n).toBeGreaterThanOrEqual(2); // each keeps its definitions fresh on its own
      expect(n).toBeLessThanOrEqual(7);
    }
    expect(joined.value).toBeDefined();
    // ioredis reconnects with capped backoff (2 s at most), then the next poll takes the lease.
    expect(joinMs).toBeLessThan(2_000 + 2 * INTERVAL_MS + 1_000);
    const client = testClient(redis.url);
    const k = keysOf({ keyPrefix: 'faults-c1', projectApiKey: fake.projectApiKey });
    expect(envelopeHash(await client.get(k.definitions))).toMatch(/^[0-9a-f]{16}$/);
    client.disconnect();
    await Promise.all(fleet.map((w) => w.worker.stop()));
    await baseline.worker.stop();
  });

  it('case 2: Redis black-holed at boot — neither boot nor any evaluation waits past the bound', async () => {
    blackHole = await BlackHoleServer.start();
    const startupTimeoutMs = 1_500;
    const options = fleetOptions(fake, blackHole.url, 'faults-c2', {
      pollingIntervalMs: INTERVAL_MS,
      startupTimeoutMs,
      redisCommandTimeoutMs: 300,
    });
    const [baseline, ...fleet] = await Promise.all([
      control('c2-control', keys[3]),
      startWorker('c2-0', options(keys[4])),
      startWorker('c2-1', options(keys[5])),
    ]);
    const statuses = await statusesOf(fleet);
    const load = new LoadLoop(fleet, { timeoutMs: 2_000 }).start();
    const statusLatency: number[] = [];
    for (let i = 0; i < 5; i++) {
      for (const w of fleet) statusLatency.push((await httpGet(w.worker, '/flags/status')).ms);
      await sleep(INTERVAL_MS);
    }
    await load.stop();
    const bootMs = fleet.map((w) => w.bootMs);
    record('2', 'Redis black-holed at boot', {
      startupTimeoutMs,
      bootMs,
      controlBootMs: baseline.bootMs,
      extraBootMs: Math.max(...bootMs) - baseline.bootMs,
      requests: load.total,
      failedRequests: load.failed,
      maxRequestMs: load.maxMs,
      maxStatusMs: Math.max(...statusLatency),
      blackHoleConnections: blackHole.connections,
      statusRedis: statuses.map((s) => s.redis),
    });
    expect(blackHole.connections).toBeGreaterThanOrEqual(2); // they did reach the black hole
    for (const w of fleet) {
      expect(w.bootMs).toBeLessThan(baseline.bootMs + startupTimeoutMs + BOOT_SLACK_MS);
    }
    for (const s of statuses) expect(s).toMatchObject({ ready: true, redis: 'down', flagCount: 2 });
    expect(load.total).toBeGreaterThan(20);
    expect(load.failed).toBe(0);
    expect(load.maxMs).toBeLessThan(500);
    expect(Math.max(...statusLatency)).toBeLessThan(500);
    await Promise.all(fleet.map((w) => w.worker.stop()));
    await baseline.worker.stop();
  });

  it('case 3: Redis killed mid-run under load — no failed request, each polls alone, shared mode resumes on restart', async () => {
    const redis = await RedisServer.start();
    servers.push(redis);
    const leaseTtlMs = 1_500;
    const options = fleetOptions(fake, redis.url, 'faults-c3', {
      pollingIntervalMs: INTERVAL_MS,
      leaseTtlMs,
    });
    const fleet: FleetWorker[] = await startFleet('c3', keys.slice(6, 9), options);
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'shared mode' });
    const load = new LoadLoop(fleet, { perTarget: 2 }).start();
    await sleep(500);

    const killedAt = Date.now();
    await redis.kill();
    const alone = await waitUntil(
      async () =>
        (await statusesOf(fleet)).every((s) => s.redis === 'down' && s.role === 'standalone'),
      { timeoutMs: 5_000, what: 'every process on its own' },
    );
    const outageStart = Date.now();
    await sleep(2_000);
    const outageEnd = Date.now();
    const outagePolls = fleet.map(
      (w) =>
        definitionsRequestsBy(fake, w.secretKey, outageStart).filter((r) => r.at <= outageEnd)
          .length,
    );
    const outageIntervals = (outageEnd - outageStart) / INTERVAL_MS;
    const servedDuringOutage = load.total;

    await redis.restart();
    const upAt = Date.now();
    await waitUntil(() => sharedModeOf(fleet), {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: 'one leader and two followers after the restart',
    });
    const recoveryMs = Date.now() - upAt;
    // A lease TTL and an interval, plus the client's own reconnect backoff after 2 s of refused
    // attempts (node-redis waits up to ~500 ms between attempts by then; 1,742 ms seen in all).
    const recoveryBoundMs = leaseTtlMs + INTERVAL_MS + RECONNECT_BACKOFF_MS;
    await sleep(300);
    await load.stop();

    // Shared mode really works again: a change reaches every process through Redis.
    fake.setDefinitions(checkoutDefinitions(false, 'v2'));
    const changeAt = Date.now();
    await waitUntil(
      async () =>
        (await Promise.all(fleet.map((w) => httpGet(w.worker, '/checkout', 'bob')))).every(
          (r) => r.status === 404,
        ),
      { timeoutMs: 5_000, intervalMs: 10, what: 'the change in every process' },
    );
    const propagationMs = Date.now() - changeAt;
    const client = testClient(redis.url);
    const k = keysOf({ keyPrefix: 'faults-c3', projectApiKey: fake.projectApiKey });
    const storedHash = envelopeHash(await client.get(k.definitions));
    const leaseHolders = await client.get(k.lease);
    client.disconnect();
    fake.setDefinitions(checkoutDefinitions(true, 'v1'));

    const unhandled = fleet.filter((w) => w.worker.output.includes(UNHANDLED)).map((w) => w.name);
    record('3', 'Redis killed mid-run under load, then restarted', {
      requests: load.total,
      requestsDuringOutage: servedDuringOutage,
      failedRequests: load.failed,
      maxRequestMs: load.maxMs,
      everyoneAloneMs: alone.ms,
      killToAllStandaloneMs: outageStart - killedAt,
      outageMs: outageEnd - outageStart,
      fetchesPerProcessDuringOutage: outagePolls,
      intervalsDuringOutage: Number(outageIntervals.toFixed(1)),
      recoveryMs,
      recoveryBoundMs,
      changePropagationMs: propagationMs,
      unhandledRejections: unhandled.length,
    });
    expect(load.failed).toBe(0);
    expect(load.total).toBeGreaterThan(100);
    expect(unhandled).toEqual([]);
    for (const n of outagePolls) {
      expect(n).toBeGreaterThanOrEqual(Math.floor(outageIntervals / 3)); // each keeps polling…
      expect(n).toBeLessThanOrEqual(Math.ceil(outageIntervals) + 2); // …once per interval
    }
    expect(recoveryMs).toBeLessThanOrEqual(recoveryBoundMs);
    expect(storedHash).toMatch(/^[0-9a-f]{16}$/);
    expect(leaseHolders).not.toBeNull();
  }, 60_000);

  it('case 14 (Redis faults): no secret key in any process output', async () => {
    const clients = servers.filter((s) => s.pid !== undefined).map((s) => testClient(s.url));
    try {
      await expectNoSecretInOutputs('redis-outage', fake, clients);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
