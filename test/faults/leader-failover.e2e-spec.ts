/**
 * Fault cases 4–6: the leader SIGKILLed, SIGSTOPped past its lease (fencing), and shut down
 * gracefully. Real worker processes, a real redis-server, the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import {
  checkoutDefinitions,
  definitionsRequestsBy,
  definitionsRequestsOf,
  fleetOptions,
  httpGet,
  keysOf,
  leadersOf,
  record,
  secretKeys,
  sharedModeOf,
  sleep,
  startFleet,
  tokenIsOf,
  waitUntil,
  type FleetWorker,
} from './support-kit.js';
import { expectNoSecretInOutputs } from './support-secrets.js';
import { startFaultServers, stopFaultServers } from './support-servers.js';
import { KeySampler, envelopeHash } from './support-redis-watch.js';

const INTERVAL_MS = 150;

describe('fault injection: the leader', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  const keys = secretKeys('leader', 10);

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
  });
  afterAll(async () => stopFaultServers({ fake, redis, client }));

  it('case 4: leader SIGKILLed (between polls, then mid-fetch) — another process leads within lease TTL + one interval, then ≤ 1 fetch per interval', async () => {
    const leaseTtlMs = 900;
    const prefix = 'faults-c4';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    let fleet = await startFleet(
      'c4',
      keys.slice(0, 4),
      fleetOptions(fake, redis.url, prefix, { pollingIntervalMs: INTERVAL_MS, leaseTtlMs }),
    );
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' });

    /**
     * SIGKILLs the leader and measures the failover from the lease key, sampled every 2 ms: the
     * new leader's token shows when it happened, to the ms. `midFetch`: right after the leader
     * renewed its lease and started a fetch (PostHog holds it 400 ms), so its last verification
     * is older than its lease.
     */
    async function killLeader(midFetch: boolean) {
      const leader = (await sharedModeOf(fleet))!;
      if (midFetch) {
        const since = Date.now();
        fake.setFault({ kind: 'delay', ms: 400 }, { secretKey: leader.secretKey, times: 1 });
        await waitUntil(
          () => definitionsRequestsBy(fake, leader.secretKey, since).some((r) => r.status === 0),
          { timeoutMs: 3_000, intervalMs: 2, what: "the leader's fetch in flight" },
        );
      }
      const leaseRemainingMs = await client.pttl(k.lease);
      const oldToken = await client.get(k.lease);
      const sampler = new KeySampler(client, (c) => c.get(k.lease), 2);
      const killedAt = Date.now();
      await leader.worker.kill();
      fleet = fleet.filter((w) => w !== leader);
      const next = await waitUntil(
        async () => {
          const leaders = await leadersOf(fleet);
          return leaders.length === 1 ? leaders[0] : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 10, what: 'a new leader' },
      );
      const statusMs = Date.now() - killedAt;
      const changes = await sampler.stop();
      const takenAt = changes.find((c) => c.value !== null && c.value !== oldToken)?.at;
      const failoverMs = (takenAt ?? Infinity) - killedAt;
      return { leader, next: next.value, oldToken, leaseRemainingMs, failoverMs, statusMs };
    }

    const between = await killLeader(false);
    await sleep(3 * INTERVAL_MS);
    const midFetch = await killLeader(true);

    // Afterwards: exactly one process polls, once per interval.
    await sleep(2 * INTERVAL_MS);
    const windowStart = Date.now();
    await sleep(15 * INTERVAL_MS);
    const windowMs = Date.now() - windowStart;
    const fetches = definitionsRequestsOf(fake, fleet, windowStart).length;
    const fetchers = fleet.filter(
      (w) => definitionsRequestsBy(fake, w.secretKey, windowStart).length > 0,
    );
    const intervals = windowMs / INTERVAL_MS;
    const shared = await sharedModeOf(fleet);
    const checkouts = await Promise.all(fleet.map((w) => httpGet(w.worker, '/checkout', 'u1')));

    const figures = (f: typeof between) => ({
      leaseRemainingAtKillMs: f.leaseRemainingMs,
      failoverMs: f.failoverMs,
      afterLeaseExpiryMs: f.failoverMs - f.leaseRemainingMs,
      seenInStatusMs: f.statusMs,
    });
    record('4', 'leader SIGKILLed', {
      leaseTtlMs,
      intervalMs: INTERVAL_MS,
      failoverBoundMs: leaseTtlMs + INTERVAL_MS,
      killedBetweenPolls: figures(between),
      killedMidFetch: figures(midFetch),
      fetchesAfter: fetches,
      intervalsAfter: Number(intervals.toFixed(1)),
      fetchesPerInterval: Number((fetches / intervals).toFixed(2)),
      processesFetching: fetchers.length,
    });
    for (const f of [between, midFetch]) {
      expect(tokenIsOf(f.oldToken, f.leader)).toBe(true);
      expect(f.next).not.toBe(f.leader);
      expect(f.failoverMs).toBeLessThanOrEqual(leaseTtlMs + INTERVAL_MS + 100); // + a busy box
    }
    expect(fetches).toBeLessThanOrEqual(Math.ceil(intervals) + 1);
    expect(fetches).toBeGreaterThanOrEqual(Math.floor(intervals / 2));
    expect(fetchers).toHaveLength(1);
    expect(shared).toBe(midFetch.next);
    expect(checkouts.map((c) => c.status)).toEqual([200, 200]);
    await Promise.all(fleet.map((w) => w.worker.stop()));
  });

  it('case 5: leader SIGSTOPped past its lease, SIGCONTed with an old fetch in hand — its write is fenced off, the shared copy never goes back', async () => {
    const leaseTtlMs = 600;
    const prefix = 'faults-c5';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    fake.setDefinitions(checkoutDefinitions(true, 'v0'));
    const fleet = await startFleet(
      'c5',
      keys.slice(4, 7),
      fleetOptions(fake, redis.url, prefix, { pollingIntervalMs: INTERVAL_MS, leaseTtlMs }),
    );
    const stale = (
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' })
    ).value;
    const others = fleet.filter((w) => w !== stale);
    const v0Hash = envelopeHash(await client.get(k.definitions));

    // 1. The definitions change (v1) and the leader's next fetch of them is held 400 ms by PostHog;
    //    the leader is frozen while it waits. (v1 is new to it: PostHog answers 200, not 304.)
    const faultAt = Date.now();
    fake.setFault({ kind: 'delay', ms: 400 }, { secretKey: stale.secretKey, times: 1 });
    fake.setDefinitions(checkoutDefinitions(true, 'v1'));
    const inFlight = (
      await waitUntil(
        () => definitionsRequestsBy(fake, stale.secretKey, faultAt).find((r) => r.status === 0),
        { timeoutMs: 3_000, intervalMs: 2, what: "the leader's fetch in flight" },
      )
    ).value;
    stale.worker.signal('SIGSTOP');
    const stoppedAt = Date.now();
    // 2. PostHog answers it while the process is frozen: v1 waits in its socket.
    await waitUntil(() => inFlight.status !== 0, {
      timeoutMs: 3_000,
      intervalMs: 2,
      what: 'v1 served',
    });
    // 3. Only then do the definitions change again (v2); the lease lapses; another process leads
    //    and writes v2. v1 reached no one but the frozen leader.
    fake.setDefinitions(checkoutDefinitions(false, 'v2'));
    const v2 = await waitUntil(
      async () => {
        const hash = envelopeHash(await client.get(k.definitions));
        return hash !== v0Hash ? hash : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 5, what: 'v2 in Redis' },
    );
    const newLeaderToken = await client.get(k.lease);
    const takeoverMs = Date.now() - stoppedAt;

    // 4. The stale leader wakes up and completes its fetch with v1 in hand: writing it now would
    //    take the shared copy back from v2 to v1. Only the fenced write stands in the way.
    const sampler = new KeySampler(
      client,
      async (c) => envelopeHash(await c.get(k.definitions)),
      2,
    );
    const metaSampler = new KeySampler(client, (c) => c.hget(k.meta, 'h'), 2);
    const continuedAt = Date.now();
    stale.worker.signal('SIGCONT');
    // It ends up a follower serving v2 like everyone else.
    const converged = await waitUntil(
      async () => {
        const r = await httpGet(stale.worker, '/checkout', 'carol');
        return r.status === 404 ? r : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 10, what: 'the stale leader serving v2' },
    );
    await sleep(6 * INTERVAL_MS);
    const changes = await sampler.stop();
    const metaChanges = await metaSampler.stop();
    const fencedLogged = stale.worker.output.includes('fenced off');
    const statusAfter = (await httpGet(stale.worker, '/flags/status')).body;
    const leaders = await leadersOf(fleet);

    record('5', 'leader SIGSTOPped past its lease, fenced on SIGCONT', {
      leaseTtlMs,
      stoppedForMs: continuedAt - stoppedAt,
      takeoverMs,
      staleFetchServed: inFlight.status,
      redisSamples: sampler.samples,
      definitionsHashSequence: changes.map((c) =>
        c.value === v0Hash ? 'v0' : c.value === v2.value ? 'v2' : c.value,
      ),
      metaHashSequence: metaChanges.map((c) =>
        c.value === v0Hash ? 'v0' : c.value === v2.value ? 'v2' : c.value,
      ),
      staleConvergedToV2Ms: Date.now() - continuedAt - 6 * INTERVAL_MS,
      fencedWriteLogged: fencedLogged,
      staleRoleAfter: statusAfter.role,
      leadersAfter: leaders.length,
    });
    expect(inFlight.status).toBe(200); // the stale leader's fetch did carry v1 (not a 304)
    expect(newLeaderToken).not.toBeNull();
    expect(tokenIsOf(newLeaderToken, stale)).toBe(false);
    expect(others.some((w) => tokenIsOf(newLeaderToken, w))).toBe(true);
    // The shared copy stays v2 from the wake-up on: never back to v1.
    expect(changes.map((c) => c.value)).toEqual([v2.value]);
    expect(metaChanges.map((c) => c.value)).toEqual([v2.value]);
    expect(sampler.samples).toBeGreaterThan(50);
    expect(fencedLogged).toBe(true); // the write was attempted and refused
    expect(converged.value.status).toBe(404);
    expect(statusAfter.role).toBe('follower');
    expect(leaders).toHaveLength(1);
    expect(leaders[0]).not.toBe(stale);
    fake.setDefinitions(checkoutDefinitions(true, 'v1'));
    await Promise.all(fleet.map((w) => w.worker.stop()));
  });

  it('case 6: graceful shutdown (SIGTERM) of the leader — lease released, next leader on the next poll, not after the TTL', async () => {
    const leaseTtlMs = 10_000;
    const prefix = 'faults-c6';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    const fleet: FleetWorker[] = await startFleet(
      'c6',
      keys.slice(7, 10),
      fleetOptions(fake, redis.url, prefix, { pollingIntervalMs: INTERVAL_MS, leaseTtlMs }),
    );
    const leader = (
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' })
    ).value;
    const tokenBefore = await client.get(k.lease);
    const sampler = new KeySampler(client, (c) => c.get(k.lease), 2);
    const stoppingAt = Date.now();
    const ended = await leader.worker.stop();
    const exitedAt = Date.now();
    const survivors = fleet.filter((w) => w !== leader);
    const next = await waitUntil(
      async () => {
        const leaders = await leadersOf(survivors);
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 10, what: 'a new leader' },
    );
    const electedMs = Date.now() - exitedAt;
    const leaseChanges = await sampler.stop();
    const tokenAfter = await client.get(k.lease);
    // The old token left Redis by the release, not by expiry: its PX was 10 s.
    const oldTokenGoneAt = leaseChanges.find((c) => c.value !== tokenBefore)?.at ?? Infinity;

    record('6', 'graceful shutdown of the leader', {
      leaseTtlMs,
      intervalMs: INTERVAL_MS,
      shutdownMs: exitedAt - stoppingAt,
      exit: ended.signal ?? ended.code,
      leaseReleasedAfterSigtermMs: oldTokenGoneAt - stoppingAt,
      nextLeaderAfterExitMs: electedMs,
      leaseSequence: leaseChanges.map((c) =>
        c.value === null ? null : c.value === tokenBefore ? 'old' : 'new',
      ),
    });
    expect(tokenIsOf(tokenBefore, leader)).toBe(true);
    expect(ended).toEqual({ code: null, signal: 'SIGTERM' }); // the hooks ran, no SIGKILL needed
    expect(oldTokenGoneAt).toBeLessThanOrEqual(exitedAt);
    expect(electedMs).toBeLessThan(2 * INTERVAL_MS + 500); // the TTL is 10 s
    expect(tokenIsOf(tokenAfter, next.value)).toBe(true);
    await Promise.all(survivors.map((w) => w.worker.stop()));
  });

  it('case 14 (leader faults): no secret key in any process output', async () => {
    await expectNoSecretInOutputs('leader-failover', fake, [client]);
  });
});
