/**
 * Issue 14, finding 3: junk in the lease key. A value with no expiry that is no process's token,
 * one far too long to be a token, and a key of another type (a hash): each used to stall the fleet
 * (nobody fetched again) or send every process standalone. Each must now be taken as a free lease:
 * a leader elected within one lease TTL, and one definitions fetch per interval for the fleet.
 * Real worker processes, a real redis-server, the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { FakePostHog } from '../support/fake-posthog.js';
import type { RedisServer } from '../support/redis-server.js';
import {
  definitionsRequestsOf,
  fleetOptions,
  keysOf,
  record,
  secretKeys,
  sharedModeOf,
  sleep,
  startFleet,
  statusesOf,
  waitUntil,
  type FleetWorker,
} from '../faults/support-kit.js';
import { startFaultServers, stopFaultServers } from '../faults/support-servers.js';

const INTERVAL_MS = 200;
const LEASE_TTL_MS = 3 * INTERVAL_MS;
const PREFIX = 'hostile-lease';

describe('hostile Redis: junk in the lease key', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  let fleet: FleetWorker[];
  const keys = secretKeys('lease', 3);
  const leaseKey = () => keysOf({ keyPrefix: PREFIX, projectApiKey: fake.projectApiKey }).lease;

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
    fleet = await startFleet(
      'junk',
      keys,
      fleetOptions(fake, redis.url, PREFIX, {
        pollingIntervalMs: INTERVAL_MS,
        leaseTtlMs: LEASE_TTL_MS,
      }),
    );
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 10_000, what: 'a leader' });
  });
  afterAll(async () => stopFaultServers({ fake, redis, client }));

  /** A lease a process holds: one of the fleet's tokens (`host:pid:random`), with an expiry. */
  async function tokenLeaseHeld(): Promise<boolean> {
    const type = await client.type(leaseKey());
    if (type !== 'string') return false;
    const [value, pttl] = await Promise.all([client.get(leaseKey()), client.pttl(leaseKey())]);
    return value !== null && value.length <= 256 && pttl > 0 && !value.startsWith('junk');
  }

  const junk: Array<[string, () => Promise<unknown>]> = [
    ['a value with no expiry that is no token', () => client.set(leaseKey(), 'junk-no-expiry')],
    [
      'a value far too long to be a token (with an expiry)',
      () => client.set(leaseKey(), `junk-${'x'.repeat(10_000)}`, 'PX', 600_000),
    ],
    [
      'a key of another type (a hash)',
      async () => {
        await client.del(leaseKey());
        await client.hset(leaseKey(), 'junk', 'yes');
      },
    ],
  ];

  it.each(junk)(
    '%s: a leader elected within one lease TTL, one fetch per interval',
    async (what, write) => {
      await write();
      const repaired = await waitUntil(tokenLeaseHeld, {
        timeoutMs: 10 * LEASE_TTL_MS,
        intervalMs: 10,
        what: 'a process holding the lease again',
      });
      const leader = await waitUntil(() => sharedModeOf(fleet), {
        timeoutMs: 5_000,
        what: 'one leader, the rest followers',
      });
      // Afterwards the fleet polls PostHog as one.
      const windowStart = Date.now();
      await sleep(10 * INTERVAL_MS);
      const windowIntervals = (Date.now() - windowStart) / INTERVAL_MS;
      const fetches = definitionsRequestsOf(fake, fleet, windowStart).length;
      const statuses = await statusesOf(fleet);
      const figures = {
        leaseTtlMs: LEASE_TTL_MS,
        repairedAfterMs: repaired.ms,
        leaderSeenAfterMs: repaired.ms + leader.ms,
        fetchesPerInterval: Number((fetches / windowIntervals).toFixed(2)),
        roles: statuses.map((s) => s.role),
        ready: statuses.map((s) => s.ready),
      };
      console.log(`junk lease (${what}): ${JSON.stringify(figures)}`);
      record('H13', `Junk lease: ${what}`, figures);
      expect(leader.value).toBeDefined();
      expect(repaired.ms).toBeLessThanOrEqual(LEASE_TTL_MS + INTERVAL_MS);
      expect(fetches / windowIntervals).toBeLessThanOrEqual(1.3);
      expect(statuses.map((s) => s.role).filter((r) => r === 'standalone')).toEqual([]);
      for (const s of statuses) expect(s.ready).toBe(true);
    },
  );
});
