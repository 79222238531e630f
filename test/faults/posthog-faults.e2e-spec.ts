/**
 * Fault cases 8–10: PostHog failing for the leader (5xx, timeouts), for everyone (5xx), refusing the
 * key (401/403), rate limiting (429), and over quota (402). Real worker processes, a real
 * redis-server, the fake PostHog.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import {
  LoadLoop,
  allSecrets,
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
  statusesOf,
  waitUntil,
  type FleetWorker,
} from './support-kit.js';
import { expectNoSecretInOutputs } from './support-secrets.js';
import { startFaultServers, stopFaultServers } from './support-servers.js';

const INTERVAL_MS = 150;

describe('fault injection: PostHog', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  const keys = secretKeys('posthog', 20);
  let nextKey = 0;
  const takeKeys = (n: number) => keys.slice(nextKey, (nextKey += n));

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
  });
  afterAll(async () => stopFaultServers({ fake, redis, client }));

  async function newLeader(fleet: readonly FleetWorker[], not: FleetWorker): Promise<FleetWorker> {
    return (
      await waitUntil(
        async () => {
          const leaders = await leadersOf(fleet);
          return leaders.length === 1 && leaders[0] !== not ? leaders[0] : undefined;
        },
        { timeoutMs: 8_000, intervalMs: 10, what: 'another leader' },
      )
    ).value;
  }

  it('case 8: PostHog failing for the leader (5xx, then timeouts) — it steps down after leaderMaxFailures; down for everyone — no stampede, last good definitions served', async () => {
    const leaseTtlMs = 2_000;
    const leaderMaxFailures = 3;
    const requestTimeout = 400;
    const fleet = await startFleet(
      'c8',
      takeKeys(3),
      fleetOptions(fake, redis.url, 'faults-c8', {
        pollingIntervalMs: INTERVAL_MS,
        leaseTtlMs,
        leaderMaxFailures,
        posthog: { requestTimeout },
      }),
    );
    const first = (
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' })
    ).value;
    const load = new LoadLoop(fleet).start();

    // A. 5xx for the leader's key only: it reaches Redis (keeps renewing), but not PostHog.
    const fault5xxAt = Date.now();
    fake.setFault({ kind: 'status', status: 500 }, { secretKey: first.secretKey });
    const second = await newLeader(fleet, first);
    const stepDown5xxMs = Date.now() - fault5xxAt;
    const failedRequests5xx = definitionsRequestsBy(fake, first.secretKey, fault5xxAt);
    const failed5xx = failedRequests5xx.length;
    // The fleet backs off after 5xx (recorded in Redis): the lease changes hands while the leader
    // keeps renewing, so a release shows as a new leader sooner than a TTL after its last failure.
    const afterLastFailureMs = Date.now() - failedRequests5xx[failed5xx - 1].at;
    // The new leader honours the fleet's backoff: its first fetch comes within one backoff cap.
    const backoffCapMs = 16 * INTERVAL_MS;
    const secondOk = (
      await waitUntil(
        () =>
          definitionsRequestsBy(fake, second.secretKey, fault5xxAt).filter(
            (r) => r.status === 200 || r.status === 304,
          ).length,
        { timeoutMs: backoffCapMs + 2 * INTERVAL_MS, what: 'the new leader fetching' },
      )
    ).value;
    const firstAfter = definitionsRequestsBy(fake, first.secretKey, fault5xxAt).length - failed5xx;

    // B. Timeouts for the new leader's key: its fetches hang until posthog-node aborts them.
    const hangAt = Date.now();
    fake.setFault({ kind: 'hang' }, { secretKey: second.secretKey });
    const third = await newLeader(fleet, second);
    const stepDownTimeoutMs = Date.now() - hangAt;
    const timedOut = definitionsRequestsBy(fake, second.secretKey, hangAt).length;
    fake.setFault(undefined);
    await sleep(2 * INTERVAL_MS);

    // C. PostHog down for everyone: one fetch per interval at most, the last good copy serves.
    const verifiedBefore = Number(
      await client.hget(
        keysOf({ keyPrefix: 'faults-c8', projectApiKey: fake.projectApiKey }).meta,
        'v',
      ),
    );
    const downAt = Date.now();
    fake.setFault({ kind: 'status', status: 503 });
    await sleep(3_000);
    const downMs = Date.now() - downAt;
    const downFetches = definitionsRequestsOf(fake, fleet, downAt);
    const statusesDown = await statusesOf(fleet);
    fake.setFault(undefined);
    const back = await waitUntil(
      () =>
        definitionsRequestsOf(fake, fleet, downAt + downMs).find(
          (r) => r.status === 200 || r.status === 304,
        ),
      { timeoutMs: 5_000, what: 'a successful fetch after PostHog is back' },
    );
    await load.stop();
    const intervalsDown = downMs / INTERVAL_MS;
    const fetchersDown = fleet.filter((w) =>
      definitionsRequestsBy(fake, w.secretKey, downAt).some((r) => r.status === 503),
    ).length;

    record('8', 'PostHog 5xx / timeouts for the leader, then down for everyone', {
      leaderMaxFailures,
      leaseTtlMs,
      failedFetchesBeforeStepDown5xx: failed5xx,
      stepDownMs5xx: stepDown5xxMs,
      newLeaderAfterLastFailureMs5xx: afterLastFailureMs,
      fetchesByStepDownLeaderAfter: firstAfter,
      timedOutFetchesBeforeStepDown: timedOut,
      stepDownMsTimeout: stepDownTimeoutMs,
      downForEveryoneMs: downMs,
      fetchesWhileDown: downFetches.length,
      fetchesPerIntervalWhileDown: Number((downFetches.length / intervalsDown).toFixed(2)),
      processesThatTriedWhileDown: fetchersDown,
      requests: load.total,
      failedRequests: load.failed,
      flagCountsWhileDown: statusesDown.map((s) => s.flagCount),
      recoveredAfterMs: back.ms,
    });
    expect(failed5xx).toBeGreaterThanOrEqual(leaderMaxFailures);
    expect(failed5xx).toBeLessThanOrEqual(leaderMaxFailures + 1);
    expect(afterLastFailureMs).toBeLessThan(leaseTtlMs); // a release, not an expiry (it kept renewing)
    expect(firstAfter).toBe(0); // stepped down: it leaves PostHog alone
    expect(secondOk).toBeGreaterThan(0);
    expect(timedOut).toBeGreaterThanOrEqual(leaderMaxFailures);
    expect(timedOut).toBeLessThanOrEqual(leaderMaxFailures + 1);
    // Its polls (each an interval plus the 400 ms it waits), then the next poll of a follower.
    expect(stepDownTimeoutMs).toBeLessThan(
      leaderMaxFailures * (requestTimeout + INTERVAL_MS) + 2 * INTERVAL_MS + 500,
    );
    expect(third).not.toBe(second);
    expect(downFetches.length).toBeLessThanOrEqual(Math.ceil(intervalsDown) + 1);
    expect(downFetches.length).toBeGreaterThanOrEqual(3);
    expect(load.failed).toBe(0);
    expect(load.total).toBeGreaterThan(100);
    for (const s of statusesDown) expect(s).toMatchObject({ ready: true, flagCount: 2 });
    expect(statusesDown.some((s) => s.lastError?.includes('5xx'))).toBe(true);
    expect(verifiedBefore).toBeGreaterThan(0);
    await Promise.all(fleet.map((w) => w.worker.stop()));
  }, 60_000);

  for (const status of [401, 403, 429] as const) {
    it(`case 9: PostHog answers ${status} — backoff, no stampede, last good definitions kept, the error in status() without the secret`, async () => {
      const maxAgeMs = 5 * INTERVAL_MS; // the default
      const fleet = await startFleet(
        `c9-${status}`,
        takeKeys(3),
        fleetOptions(fake, redis.url, `faults-c9-${status}`, {
          pollingIntervalMs: INTERVAL_MS,
          leaseTtlMs: 1_500,
          maxAgeMs,
        }),
      );
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' });
      const load = new LoadLoop(fleet).start();
      const faultAt = Date.now();
      fake.setFault({ kind: 'status', status });
      await sleep(2_500);
      const windowMs = Date.now() - faultAt;
      const fetches = definitionsRequestsOf(fake, fleet, faultAt);
      const statuses = await statusesOf(fleet);
      const health = await Promise.all(fleet.map((w) => httpGet(w.worker, '/health')));
      fake.setFault(undefined);
      const clearedAt = Date.now();
      const back = await waitUntil(
        () =>
          definitionsRequestsOf(fake, fleet, clearedAt).find(
            (r) => r.status === 200 || r.status === 304,
          ),
        { timeoutMs: 15_000, what: 'a successful fetch after the fault' },
      );
      // PostHog answers again: every process is back to its normal pace. One that stepped down
      // in backoff must not go on reading Redis at the backed-off pace (stale, health flapping):
      // one backed-off poll (2^3 intervals after 3 failures) at most, then every interval.
      await sleep(10 * INTERVAL_MS);
      const worstAgeMs = fleet.map(() => 0);
      const unhealthy = fleet.map(() => 0);
      for (const until = Date.now() + 15 * INTERVAL_MS; Date.now() < until;) {
        const [ages, healthNow] = await Promise.all([
          statusesOf(fleet),
          Promise.all(fleet.map((w) => httpGet(w.worker, '/health'))),
        ]);
        ages.forEach((s, i) => (worstAgeMs[i] = Math.max(worstAgeMs[i], s.ageMs ?? Infinity)));
        healthNow.forEach((h, i) => (unhealthy[i] += h.status === 200 ? 0 : 1));
        await sleep(50);
      }
      await load.stop();

      // Backoff: a process's consecutive refused fetches come further and further apart (doubling,
      // but a wait ends on an interval tick, so a gap may grow by less: 491 → 716 ms seen).
      const gaps = fleet.map((w) => {
        const at = definitionsRequestsBy(fake, w.secretKey, faultAt)
          .filter((r) => r.status === status)
          .map((r) => r.at);
        return at.slice(1).map((t, i) => t - at[i]);
      });
      const growing = gaps.filter(
        (g) => g.length >= 2 && g.every((gap, i) => i === 0 || gap >= 1.3 * g[i - 1]),
      );
      const intervals = windowMs / INTERVAL_MS;
      const text = JSON.stringify(statuses) + JSON.stringify(health.map((h) => h.body));
      const leaked = [...allSecrets(), fake.secretKey].filter((s) => text.includes(s));
      const withError = statuses.filter((s) => s.lastError?.includes(String(status)));

      record(`9-${status}`, `PostHog answers ${status}`, {
        windowMs,
        fetches: fetches.length,
        fetchesPerInterval: Number((fetches.length / intervals).toFixed(2)),
        gapsMsPerProcess: gaps,
        requests: load.total,
        failedRequests: load.failed,
        flagCounts: statuses.map((s) => s.flagCount),
        lastError: withError[0]?.lastError ?? null,
        secretsInStatusOrHealth: leaked.length,
        recoveredAfterMs: back.ms,
        worstAgeMsAfterRecovery: worstAgeMs,
        unhealthySamplesAfterRecovery: unhealthy,
      });
      expect(fetches.length).toBeGreaterThanOrEqual(2);
      expect(fetches.length).toBeLessThanOrEqual(Math.ceil(intervals * 0.75)); // backed off
      expect(growing.length).toBeGreaterThanOrEqual(1);
      expect(load.failed).toBe(0);
      for (const s of statuses) expect(s).toMatchObject({ ready: true, flagCount: 2 });
      expect(withError.length).toBeGreaterThanOrEqual(1);
      expect(leaked).toEqual([]);
      for (const age of worstAgeMs) expect(age).toBeLessThanOrEqual(maxAgeMs);
      expect(unhealthy).toEqual(fleet.map(() => 0));
      await Promise.all(fleet.map((w) => w.worker.stop()));
    }, 40_000);
  }

  it('case 10: 402 — recorded in meta, followers and health report it; after the quota returns, everyone has fresh definitions', async () => {
    const prefix = 'faults-c10';
    const k = keysOf({ keyPrefix: prefix, projectApiKey: fake.projectApiKey });
    const fleet = await startFleet(
      'c10',
      takeKeys(3),
      fleetOptions(fake, redis.url, prefix, {
        pollingIntervalMs: INTERVAL_MS,
        leaseTtlMs: 1_000,
        maxAgeMs: 1_000,
      }),
    );
    const leader = (
      await waitUntil(() => sharedModeOf(fleet), { timeoutMs: 5_000, what: 'a leader' })
    ).value;
    const followers = fleet.filter((w) => w !== leader);
    const quotaAt = Date.now();
    fake.setFault({ kind: 'status', status: 402 });
    const seen = await waitUntil(
      async () => (await statusesOf(fleet)).every((s) => s.quotaLimited),
      { timeoutMs: 5_000, intervalMs: 10, what: 'every process reporting the quota' },
    );
    const metaQuota = Number(await client.hget(k.meta, 'q'));
    const followerStatuses = await statusesOf(followers);
    const health = await Promise.all(fleet.map((w) => httpGet(w.worker, '/health')));
    const checkoutsLimited = await Promise.all(
      fleet.map((w) => httpGet(w.worker, '/checkout', 'dave')),
    );
    await sleep(1_500); // a while over quota: past maxAge, fetches stay one per interval
    const quotaFetches = definitionsRequestsOf(fake, fleet, quotaAt).length;
    const quotaIntervals = (Date.now() - quotaAt) / INTERVAL_MS;
    const healthLater = await Promise.all(fleet.map((w) => httpGet(w.worker, '/health')));

    // The quota returns (PostHog would answer 304 to the old ETag: the 402-then-304 trap).
    fake.setFault(undefined);
    const returnedAt = Date.now();
    const recovered = await waitUntil(
      async () =>
        (await statusesOf(fleet)).every((s) => s.flagCount === 2 && !s.quotaLimited) &&
        (await Promise.all(fleet.map((w) => httpGet(w.worker, '/checkout', 'dave')))).every(
          (r) => r.status === 200,
        ),
      { timeoutMs: 5_000, intervalMs: 10, what: 'everyone back to the definitions' },
    );
    const firstAnswer = definitionsRequestsOf(fake, fleet, returnedAt).find(
      (r) => r.status !== 402,
    );
    await sleep(6 * INTERVAL_MS);
    const statusesLater = await statusesOf(fleet);
    const metaQuotaAfter = Number(await client.hget(k.meta, 'q'));
    const healthBody = (h: { body: any }) =>
      h.body?.info?.posthog_flags ?? h.body?.error?.posthog_flags ?? h.body?.details?.posthog_flags;

    record('10', 'PostHog answers 402 (quota), then the quota returns', {
      everyoneReportsQuotaMs: seen.ms,
      metaQuotaRecorded: metaQuota > 0,
      followerLastError: followerStatuses[0]?.lastError,
      healthStatusCodes: health.map((h) => h.status),
      healthStatusCodesAfter1500ms: healthLater.map((h) => h.status),
      checkoutWhileLimited: checkoutsLimited.map((c) => c.status),
      fetchesPerIntervalOverQuota: Number((quotaFetches / quotaIntervals).toFixed(2)),
      firstAnswerAfterQuotaReturns: firstAnswer?.status,
      recoveryMs: recovered.ms,
      flagCountsAfter: statusesLater.map((s) => s.flagCount),
      metaQuotaClearedAfter: metaQuotaAfter === 0,
    });
    expect(metaQuota).toBeGreaterThan(0);
    for (const s of followerStatuses) {
      expect(s.quotaLimited).toBe(true);
      expect(s.lastError).toContain('402');
    }
    // Over quota every flag reads off: health is down at once (not only once maxAge has passed),
    // and says why.
    for (const h of [...health, ...healthLater]) {
      expect(h.status).toBe(503);
      expect(healthBody(h)).toMatchObject({ status: 'down', quotaLimited: true });
    }
    expect(checkoutsLimited.map((c) => c.status)).toEqual([404, 404, 404]); // as posthog-node: all off
    expect(quotaFetches).toBeLessThanOrEqual(Math.ceil(quotaIntervals) + 1);
    expect(firstAnswer?.status).toBe(200); // a full body, not a 304 over an emptied client
    expect(recovered.ms).toBeLessThan(3 * INTERVAL_MS + 1_000);
    for (const s of statusesLater) {
      expect(s).toMatchObject({ ready: true, flagCount: 2, quotaLimited: false });
    }
    expect(metaQuotaAfter).toBe(0);
    await Promise.all(fleet.map((w) => w.worker.stop()));
  });

  it('case 14 (PostHog faults): no secret key in any process output', async () => {
    await expectNoSecretInOutputs('posthog-faults', fake, [client]);
  });
});
