/**
 * Fault cases 12 and 13: a cold fleet of 16 processes on an empty Redis, and shutdown under load
 * while a definitions fetch hangs or completes late. Real worker processes, a real redis-server,
 * the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import {
  LoadLoop,
  checkoutDefinitions,
  definitionsRequestsBy,
  definitionsRequestsOf,
  fleetOptions,
  httpGet,
  isAlive,
  keysOf,
  openSlowRequest,
  record,
  secretKeys,
  sharedModeOf,
  sleep,
  startFleet,
  startWorker,
  statusesOf,
  tokenIsOf,
  waitUntil,
  type FleetWorker,
} from './support-kit.js';
import { expectNoSecretInOutputs } from './support-secrets.js';
import { startFaultServers, stopFaultServers } from './support-servers.js';
import { HoldingProxy } from './support-holding-proxy.js';
import { KeySampler, RedisMonitor } from './support-redis-watch.js';

const FLEET_SIZE = 16;
/** Requests keep coming to a stopping process this long (until a load balancer drops it). */
const DRAIN_MS = 1_000;
/** How soon after SIGTERM a process must be out of the lease protocol. */
const RELEASE_BOUND_MS = 500;
/** Longer than the 3 s a follower used to wait before fetching for itself. */
const FIRST_FETCH_DELAY_MS = 4_000;

describe('fault injection: fleet start and shutdown', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  let monitor: RedisMonitor | undefined;
  let proxy: HoldingProxy | undefined;
  const keys = secretKeys('fleet', FLEET_SIZE + 13);

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
  });
  afterAll(async () => {
    monitor?.close();
    await proxy?.close();
    await stopFaultServers({ fake, redis, client });
  });

  it(`case 12: ${FLEET_SIZE} processes started together on an empty Redis — at most one definitions fetch for the whole fleet`, async () => {
    const prefix = 'faults-c12';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    expect(await client.exists(k.definitions, k.meta, k.lease)).toBe(0);
    // Far above a boot of 16 processes on 2 cores (20–40 s under load): no regular poll in the window.
    const pollingIntervalMs = 120_000;
    // The first leader is slow (as under CPU contention): its copy comes seconds after the others
    // are waiting for it, and they must keep waiting rather than fetch their own.
    fake.setFault({ kind: 'delay', ms: FIRST_FETCH_DELAY_MS }, { times: 1 });
    const startedAt = Date.now();
    const fleet = await startFleet(
      'c12',
      keys.slice(0, FLEET_SIZE),
      fleetOptions(fake, redis.url, prefix, { pollingIntervalMs, startupTimeoutMs: 10_000 }),
      60_000,
    );
    const allUpMs = Date.now() - startedAt;
    const statuses = await statusesOf(fleet);
    const checkouts = await Promise.all(fleet.map((w) => httpGet(w.worker, '/checkout', 'frank')));
    const requests = definitionsRequestsOf(fake, fleet, startedAt);
    const fetchers = fleet.filter(
      (w) => definitionsRequestsBy(fake, w.secretKey, startedAt).length,
    );
    const boots = fleet.map((w) => w.bootMs).sort((a, b) => a - b);

    record('12', `${FLEET_SIZE} processes started together on an empty Redis`, {
      processes: FLEET_SIZE,
      allListeningMs: allUpMs,
      bootMsMin: boots[0],
      bootMsMedian: boots[Math.floor(boots.length / 2)],
      bootMsMax: boots.at(-1),
      definitionsFetches: requests.length,
      processesThatFetched: fetchers.length,
      leaders: statuses.filter((s) => s.role === 'leader').length,
      followers: statuses.filter((s) => s.role === 'follower').length,
      ready: statuses.filter((s) => s.ready && s.flagCount === 2).length,
      checkout200: checkouts.filter((c) => c.status === 200).length,
      firstFetchDelayMs: FIRST_FETCH_DELAY_MS,
    });
    expect(allUpMs).toBeLessThan(pollingIntervalMs);
    expect(requests).toHaveLength(1);
    expect(fetchers).toHaveLength(1);
    expect(statuses.filter((s) => s.role === 'leader')).toHaveLength(1);
    expect(statuses.filter((s) => s.role === 'follower')).toHaveLength(FLEET_SIZE - 1);
    for (const s of statuses) expect(s).toMatchObject({ ready: true, flagCount: 2 });
    expect(checkouts.filter((c) => c.status === 200)).toHaveLength(FLEET_SIZE);
    await Promise.all(fleet.map((w) => w.worker.stop()));
  }, 90_000);

  it('case 12b: the first leader dies mid-fetch on an empty Redis — one other process takes over when its short cold lease runs out (not the full lease TTL), the rest keep waiting', async () => {
    const prefix = 'faults-c12b';
    // A lease TTL far above the cold lease (request timeout + 5 s): followers that waited for
    // the lease itself would wait 30 s.
    const leaseTtlMs = 30_000;
    const requestTimeoutMs = 1_000;
    const coldLeaseTtlMs = requestTimeoutMs + 5_000;
    fake.setFault({ kind: 'delay', ms: 20_000 }, { times: 1 });
    const since = Date.now();
    const fleet = await startFleet(
      'c12b',
      keys.slice(FLEET_SIZE + 6, FLEET_SIZE + 9),
      fleetOptions(fake, redis.url, prefix, {
        pollingIntervalMs: 1_000,
        leaseTtlMs,
        startupTimeoutMs: 500,
        posthog: { requestTimeout: requestTimeoutMs },
      }),
    );
    const hung = await waitUntil(
      () => definitionsRequestsOf(fake, fleet, since).find((r) => r.status === 0),
      { timeoutMs: 10_000, what: "the first leader's fetch in flight" },
    );
    const first = fleet.find((w) => hung.value.authorization === `Bearer ${w.secretKey}`)!;
    const killedAt = Date.now();
    await first.worker.kill();
    const rest = fleet.filter((w) => w !== first);
    const { allReady, readyAt, fetchesUntilReady } = await untilAllServe(
      rest,
      since,
      coldLeaseTtlMs + 8_000,
      'the rest ready',
    );
    // Only the takeover fetch before everyone serves: no follower fetched for itself.
    const takeoverFetchMs = (fetchesUntilReady[0]?.at ?? Infinity) - killedAt;
    record('12b', 'the first leader dies mid-fetch on an empty Redis', {
      leaseTtlMs,
      coldLeaseTtlMs,
      takeoverFetchMs,
      readyAfterKillMs: readyAt - killedAt,
      fetchesUntilReady: fetchesUntilReady.length,
      leaders: allReady.value.filter((s) => s.role === 'leader').length,
    });
    expect(fetchesUntilReady).toHaveLength(1);
    expect(takeoverFetchMs).toBeLessThan(coldLeaseTtlMs + 2_000);
    expect(allReady.value.filter((s) => s.role === 'leader')).toHaveLength(1);
    await Promise.all(rest.map((w) => w.worker.stop()));
  }, 60_000);

  it('case 12c: a first fetch slower than a short lease TTL — the first leader keeps its lease through it, still one fetch for the fleet', async () => {
    const prefix = 'faults-c12c';
    const leaseTtlMs = 600;
    const firstFetchMs = 2_500; // four lease TTLs: once, the lease lapsed and others fetched too
    fake.setFault({ kind: 'delay', ms: firstFetchMs }, { times: 1 });
    const since = Date.now();
    const fleet = await startFleet(
      'c12c',
      keys.slice(FLEET_SIZE + 9, FLEET_SIZE + 13),
      fleetOptions(fake, redis.url, prefix, {
        pollingIntervalMs: 200,
        leaseTtlMs,
        startupTimeoutMs: 500,
      }),
    );
    const { allReady, readyAt, fetchesUntilReady } = await untilAllServe(
      fleet,
      since,
      firstFetchMs + 10_000,
      'the fleet ready',
    );
    record('12c', 'a first fetch slower than a short lease TTL', {
      leaseTtlMs,
      firstFetchMs,
      readyMs: readyAt - since,
      fetchesUntilReady: fetchesUntilReady.length,
      processesThatFetched: new Set(fetchesUntilReady.map((r) => r.authorization)).size,
      leaders: allReady.value.filter((s) => s.role === 'leader').length,
    });
    expect(fetchesUntilReady).toHaveLength(1);
    expect(allReady.value.filter((s) => s.role === 'leader')).toHaveLength(1);
    await Promise.all(fleet.map((w) => w.worker.stop()));
  }, 60_000);

  /**
   * SIGTERM under load: request loops keep coming for DRAIN_MS (until a load balancer takes the
   * process out of rotation) and one slow client is mid-request (its headers unfinished), so the
   * HTTP server has to wait before it can close; then the loops stop and the slow client gives up.
   * (A connection per request: no keep-alive socket lingers after the load stops, so the exit
   * time measures the process, not the client's pool.) Resolves how and when the process ended,
   * and what its clients saw.
   */
  async function stopUnderLoad(w: FleetWorker) {
    const load = new LoadLoop([w], {
      uniqueUsers: true,
      perTarget: 2,
      pauseMs: 0,
      connectionPerRequest: true,
    }).start();
    const slow = await openSlowRequest(w.worker);
    await sleep(200);
    const termAt = Date.now();
    const stopping = w.worker.stop(15_000);
    await sleep(DRAIN_MS);
    const loadStoppedAt = Date.now();
    const aliveAtDrainEnd = isAlive(w);
    slow.destroy();
    await load.stop();
    const ended = await stopping;
    const exitedAt = Date.now();
    return { termAt, loadStoppedAt, exitedAt, ended, aliveAtDrainEnd, stats: load.of(w.name) };
  }

  /** The timings 13a and 13b both record for a stop under load. */
  function shutdownFigures(stop: Awaited<ReturnType<typeof stopUnderLoad>>, release?: number) {
    return {
      drainMs: DRAIN_MS,
      releaseAfterSigtermMs: release === undefined ? null : release - stop.termAt,
      exitAfterSigtermMs: stop.exitedAt - stop.termAt,
      exitAfterLoadStoppedMs: stop.exitedAt - stop.loadStoppedAt,
      exit: stop.ended.signal ?? stop.ended.code,
      stillDrainingAfterDrainMs: stop.aliveAtDrainEnd,
    };
  }

  /**
   * Waits until every worker serves both flags; returns their statuses, when, and the definitions
   * requests they made from `since` until then.
   */
  async function untilAllServe(
    workers: FleetWorker[],
    since: number,
    timeoutMs: number,
    what: string,
  ) {
    const allReady = await waitUntil(
      async () => {
        const statuses = await statusesOf(workers);
        return statuses.every((s) => s.ready && s.flagCount === 2) ? statuses : undefined;
      },
      { timeoutMs, what },
    );
    const readyAt = Date.now();
    const fetchesUntilReady = definitionsRequestsOf(fake, workers, since).filter(
      (r) => r.at <= readyAt,
    );
    return { allReady, readyAt, fetchesUntilReady };
  }

  /** When, after `since`, this process first ran the release script (MONITOR). */
  function releasedAt(w: FleetWorker, since: number): number | undefined {
    return monitor?.byPid(w.worker.pid, since).find((c) => c.name === 'release')?.at;
  }

  it('case 13a: shutdown under load while the leader’s fetch hangs — out of the lease protocol at once, exits within its bound, leaves the new leader’s lease alone', async () => {
    const prefix = 'faults-c13a';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    const intervalMs = 150;
    const leaseTtlMs = 600;
    const options = fleetOptions(fake, redis.url, prefix, {
      pollingIntervalMs: intervalMs,
      leaseTtlMs,
    });
    // The first process leads; the other follows.
    const stale = await startWorker('c13a-leader', options(keys[FLEET_SIZE]));
    await waitUntil(async () => (await statusesOf([stale]))[0].role === 'leader', {
      timeoutMs: 5_000,
      what: 'the first process leading',
    });
    const next = await startWorker('c13a-follower', options(keys[FLEET_SIZE + 1]));
    const fleet = [stale, next];
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'shared mode' });
    monitor ??= await RedisMonitor.start(redis.url);
    const otherLoad = new LoadLoop([next], { uniqueUsers: true }).start();

    // The leader's fetch hangs; it stops renewing; its lease lapses; the other process leads.
    const hangAt = Date.now();
    fake.setFault({ kind: 'hang' }, { secretKey: stale.secretKey });
    await waitUntil(() => definitionsRequestsBy(fake, stale.secretKey, hangAt).length > 0, {
      timeoutMs: 3_000,
      what: 'the hung fetch',
    });
    const taken = await waitUntil(
      async () => {
        const token = await client.get(k.lease);
        return tokenIsOf(token, next) ? token : undefined;
      },
      { timeoutMs: 5_000, what: 'the lease taken over' },
    );
    await sleep(2 * intervalMs);

    // SIGTERM to the stale leader, which still believes it leads and has a fetch pending.
    const sampler = new KeySampler(client, (c) => c.get(k.lease), 2);
    const stop = await stopUnderLoad(stale);
    await sleep(3 * intervalMs);
    await otherLoad.stop();
    const leaseSeen = await sampler.stop();
    fake.setFault(undefined);
    const commands = monitor.byPid(stale.worker.pid, stop.termAt).map((c) => c.name);
    const release = releasedAt(stale, stop.termAt);
    const nextStats = otherLoad.of(next.name);

    record('13a', 'shutdown under load with a hung fetch', {
      ...shutdownFigures(stop, release),
      leaseValuesDuringShutdown: leaseSeen.map((c) =>
        c.value === taken.value ? 'new leader' : c.value,
      ),
      commandsAfterSigterm: commands,
      answeredByStopping: stop.stats.ok + stop.stats.badStatus,
      badAnswersFromStopping: stop.stats.badStatus,
      refusedByStopping: stop.stats.errors,
      requestsToOther: nextStats.ok,
      failedRequestsOther: nextStats.badStatus + Object.keys(nextStats.errors).length,
    });
    expect(stop.ended).toEqual({ code: null, signal: 'SIGTERM' }); // no SIGKILL needed
    expect(stop.exitedAt - stop.loadStoppedAt).toBeLessThan(3_000); // the hung fetch holds nothing up
    // Out of the lease protocol at once, not after the requests drained: it tried to release (it
    // believed it led), which left the other's lease in place, and did nothing else to Redis.
    expect(release).toBeDefined();
    expect(release! - stop.termAt).toBeLessThan(RELEASE_BOUND_MS);
    expect(commands.filter((c) => c !== 'release')).toEqual([]);
    expect(leaseSeen.map((c) => c.value)).toEqual([taken.value]);
    expect(stop.stats.badStatus).toBe(0); // every request it answered was served right
    expect(nextStats.badStatus).toBe(0);
    expect(nextStats.errors).toEqual({});
    await next.worker.stop();
  }, 40_000);

  it('case 13b: shutdown under load while a fetch completes late — a late onFlagDefinitionsReceived writes nothing and takes no lease', async () => {
    const prefix = 'faults-c13b';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    const intervalMs = 150;
    proxy ??= await HoldingProxy.start(fake.url);
    const options = fleetOptions(fake, redis.url, prefix, {
      pollingIntervalMs: intervalMs,
      leaseTtlMs: 5_000,
    });
    // The leader talks to PostHog through the proxy (to hold its shutdown's event upload).
    const leader = await startWorker('c13b-leader', {
      ...options(keys[FLEET_SIZE + 2]),
      host: proxy.url,
    });
    await waitUntil(async () => (await statusesOf([leader]))[0].role === 'leader', {
      timeoutMs: 5_000,
      what: 'the first process leading',
    });
    const other = await startWorker('c13b-follower', options(keys[FLEET_SIZE + 3]));
    const fleet: FleetWorker[] = [leader, other];
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'shared mode' });
    monitor ??= await RedisMonitor.start(redis.url);
    const otherLoad = new LoadLoop([other], { uniqueUsers: true }).start();

    // Its next fetch is answered 600 ms late, with new definitions; SIGTERM while it waits. The
    // shutdown flushes events after stopping the poller: held 2 s, the answer arrives meanwhile.
    proxy.holdBatchMs = 2_000;
    const delayAt = Date.now();
    fake.setFault({ kind: 'delay', ms: 600 }, { secretKey: leader.secretKey, times: 1 });
    fake.setDefinitions(checkoutDefinitions(true, 'v2-late'));
    const late = (
      await waitUntil(
        () => definitionsRequestsBy(fake, leader.secretKey, delayAt).find((r) => r.status === 0),
        { timeoutMs: 3_000, intervalMs: 2, what: 'the delayed fetch in flight' },
      )
    ).value;
    const stopping = stopUnderLoad(leader);
    const lateServedAt = (
      await waitUntil(() => (late.status !== 0 ? Date.now() : 0), {
        timeoutMs: 3_000,
        intervalMs: 2,
        what: 'the late answer',
      })
    ).value;
    const stop = await stopping;
    await sleep(3 * intervalMs);
    await otherLoad.stop();
    proxy.holdBatchMs = 0;
    const commands = monitor.byPid(leader.worker.pid, stop.termAt).map((c) => c.name);
    const release = releasedAt(leader, stop.termAt);
    const heldBatch = proxy.batches.find((b) => b.arrivedAt >= stop.termAt);
    const otherStats = otherLoad.of(other.name);
    const leaseAfter = await client.get(k.lease);

    record('13b', 'shutdown under load with a late fetch answer', {
      ...shutdownFigures(stop, release),
      lateAnswerStatus: late.status,
      lateAnswerAfterSigtermMs: lateServedAt - stop.termAt,
      lateAnswerBeforeExitMs: stop.exitedAt - lateServedAt,
      eventUploadHeldDuringShutdown: heldBatch !== undefined,
      commandsAfterSigterm: commands,
      badAnswersFromStopping: stop.stats.badStatus,
      refusedByStopping: stop.stats.errors,
      failedRequestsOther: otherStats.badStatus + Object.keys(otherStats.errors).length,
      leaseAfterHeldByOther: tokenIsOf(leaseAfter, other),
    });
    expect(stop.ended).toEqual({ code: null, signal: 'SIGTERM' });
    expect(late.status).toBe(200); // a full answer, with new definitions, reached the process…
    expect(heldBatch).toBeDefined(); // …while its shutdown was still flushing events
    expect(stop.exitedAt - lateServedAt).toBeGreaterThan(300);
    // posthog-node's shutdown bound (5 s) + closing Redis, once the requests have drained.
    expect(stop.exitedAt - stop.loadStoppedAt).toBeLessThan(5_000 + 1_000 + 1_000);
    // After SIGTERM the only thing it did to Redis was to give up its own lease, at once.
    expect(release).toBeDefined();
    expect(release! - stop.termAt).toBeLessThan(RELEASE_BOUND_MS);
    expect(commands.filter((c) => c !== 'release')).toEqual([]);
    expect(stop.stats.badStatus).toBe(0);
    expect(otherStats.badStatus).toBe(0);
    expect(otherStats.errors).toEqual({});
    await other.worker.stop();
  }, 40_000);

  it('case 13c: shutdown under load while Redis hangs (SIGSTOP) — exits within its bound', async () => {
    const prefix = 'faults-c13c';
    const redisCommandTimeoutMs = 500;
    const options = fleetOptions(fake, redis.url, prefix, {
      pollingIntervalMs: 150,
      leaseTtlMs: 1_000,
      redisCommandTimeoutMs,
    });
    const fleet = [
      await startWorker('c13c-0', options(keys[FLEET_SIZE + 4])),
      await startWorker('c13c-1', options(keys[FLEET_SIZE + 5])),
    ];
    await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'shared mode' });
    redis.pause();
    let stops: Array<Awaited<ReturnType<typeof stopUnderLoad>>>;
    try {
      stops = await Promise.all(fleet.map((w) => stopUnderLoad(w)));
    } finally {
      redis.resume();
    }
    // posthog-node's shutdown bound + the Redis calls (release, close) + Nest, once drained.
    const bound = 5_000 + 2 * redisCommandTimeoutMs + 1_000;

    record('13c', 'shutdown under load while Redis hangs', {
      drainMs: DRAIN_MS,
      exitAfterLoadStoppedMs: stops.map((s) => s.exitedAt - s.loadStoppedAt),
      exitAfterSigtermMs: stops.map((s) => s.exitedAt - s.termAt),
      boundMs: bound,
      exits: stops.map((s) => s.ended.signal ?? s.ended.code),
      answered: stops.map((s) => s.stats.ok + s.stats.badStatus),
      badAnswers: stops.reduce((n, s) => n + s.stats.badStatus, 0),
    });
    for (const s of stops) {
      expect(s.ended).toEqual({ code: null, signal: 'SIGTERM' }); // no SIGKILL needed
      expect(s.exitedAt - s.loadStoppedAt).toBeLessThan(bound);
      expect(s.stats.badStatus).toBe(0);
    }
  }, 40_000);

  it('case 14 (fleet): no secret key in any process output', async () => {
    await expectNoSecretInOutputs('fleet-lifecycle', fake, [client]);
  });
});
