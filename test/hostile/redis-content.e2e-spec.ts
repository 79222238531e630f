/**
 * Issue 14, findings 3 and 4: whoever can write to Redis plays the attacker against a fleet of a
 * leader and two followers (real worker processes, a real redis-server, the fake PostHog). Meta,
 * notices and the lease are written as an attacker would; each case prints what it now costs.
 * Poisoned meta must never turn health green or red by itself, never cause more than one full
 * read per real change, and never flood the log.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { FakePostHog } from '../support/fake-posthog.js';
import type { RedisServer } from '../support/redis-server.js';
import {
  LoadLoop,
  definitionsRequestsOf,
  fleetOptions,
  httpGet,
  keysOf,
  record,
  secretKeys,
  sleep,
  startWorker,
  statusOf,
  waitUntil,
  type FleetWorker,
} from '../faults/support-kit.js';
import { redisStats } from '../faults/support-redis-watch.js';
import { startFaultServers, stopFaultServers } from '../faults/support-servers.js';

const INTERVAL_MS = 200;
const MAX_AGE_MS = 1_000;
const LEASE_TTL_MS = 3 * INTERVAL_MS;
const YEAR_2100 = Date.UTC(2100, 0, 1);
const HEALTH_LOG = /Health Check has failed/;

interface HealthSample {
  status: number;
  bytes: number;
  body: any;
}

describe('hostile Redis: meta, notices and the lease as an attacker writes them', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let client: Redis;
  const keys = secretKeys('content', 3);
  const options = () =>
    fleetOptions(fake, redis.url, 'hostile-content', {
      pollingIntervalMs: INTERVAL_MS,
      maxAgeMs: MAX_AGE_MS,
    });
  const redisKeys = () =>
    keysOf({ keyPrefix: 'hostile-content', projectApiKey: fake.projectApiKey });
  let leader: FleetWorker;
  let followers: FleetWorker[];
  let fleet: FleetWorker[];

  beforeAll(async () => {
    ({ fake, redis, client } = await startFaultServers(keys));
    leader = await startWorker('content-leader', options()(keys[0]));
    await waitUntil(async () => (await statusOf(leader)).role === 'leader', {
      timeoutMs: 10_000,
      what: 'a leader',
    });
    followers = await Promise.all([
      startWorker('content-f1', options()(keys[1])),
      startWorker('content-f2', options()(keys[2])),
    ]);
    fleet = [leader, ...followers];
    await allHealthy();
  });
  afterAll(async () => stopFaultServers({ fake, redis, client }));

  async function health(w: FleetWorker): Promise<HealthSample> {
    const response = await fetch(`${w.worker.url}/health`, { signal: AbortSignal.timeout(3_000) });
    const text = await response.text();
    return { status: response.status, bytes: text.length, body: JSON.parse(text) };
  }

  async function allHealthy(): Promise<number> {
    return (
      await waitUntil(
        async () => (await Promise.all(fleet.map(health))).every((h) => h.status === 200),
        { timeoutMs: 15_000, intervalMs: 100, what: 'the whole fleet healthy' },
      )
    ).ms;
  }

  async function allDown(ws: readonly FleetWorker[]): Promise<number> {
    return (
      await waitUntil(
        async () => (await Promise.all(ws.map(health))).every((h) => h.status !== 200),
        {
          timeoutMs: 15_000,
          intervalMs: 100,
          what: 'every follower down',
        },
      )
    ).ms;
  }

  /** Samples the followers' health for `ms`: how many samples answered each way, largest body. */
  async function watchHealth(ms: number, during?: () => Promise<void>) {
    let up = 0;
    let down = 0;
    let maxBytes = 0;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await during?.();
      for (const h of await Promise.all(followers.map(health))) {
        if (h.status === 200) up++;
        else down++;
        maxBytes = Math.max(maxBytes, h.bytes);
      }
      await sleep(100);
    }
    return { up, down, maxBytes };
  }

  /**
   * Warning and error lines each worker logged since `marks` (its output length then). Terminus
   * logs every failed health check itself (one line per `/health` request while down, and this
   * test asks 10 times a second): those lines are the app's, counted apart.
   */
  function logLinesSince(marks: number[]): number[] {
    return fleet.map((w, i) => problemLines(w, marks[i]).filter((l) => !HEALTH_LOG.test(l)).length);
  }

  function problemLines(w: FleetWorker, mark: number): string[] {
    return w.worker.output
      .slice(mark)
      .split('\n')
      .filter((l) => /\b(WARN|ERROR)\b/.test(l));
  }

  function summary(marks: number[]): Record<string, number> {
    const counts: Record<string, number> = {};
    fleet.forEach((w, i) => {
      for (const line of problemLines(w, marks[i])) {
        const text = line
          .replace(/^.*?(WARN|ERROR)\s+/, '')
          .replace(/\d+/g, 'N')
          .slice(0, 90);
        counts[text] = (counts[text] ?? 0) + 1;
      }
    });
    return counts;
  }

  const outputMarks = () => fleet.map((w) => w.worker.output.length);

  it('verifiedAt in the year 2100 turns no follower green while PostHog fails, nor red while all is well', async () => {
    const { meta } = redisKeys();
    const marks = outputMarks();
    // All is well: the forged verification does nothing to health.
    await client.hset(meta, 'v', String(YEAR_2100));
    const well = await watchHealth(2_000);

    // PostHog fails for everyone; once the followers are down, the attacker "verifies" again.
    fake.setFault({ kind: 'status', status: 502 });
    const downMs = await allDown(followers);
    await client.hset(meta, 'v', String(YEAR_2100 + 1));
    const failing = await watchHealth(2_000);
    fake.setFault(undefined);
    const recoveredMs = await allHealthy();
    const logLines = logLinesSince(marks);

    const figures = {
      wellSamples: well,
      failingDownAfterMs: downMs,
      failingAfterForgery: failing,
      recoveredMs,
      warnLinesPerProcess: logLines,
    };
    console.log(`meta v = year 2100: ${JSON.stringify(figures)}`);
    console.log(`log lines: ${JSON.stringify(summary(marks), null, 1)}`);
    record('H8', 'Meta verifiedAt forged to the year 2100', figures);
    expect(well.down).toBe(0);
    expect(failing.up).toBe(0);
    for (const n of logLines) expect(n).toBeLessThanOrEqual(10);
  });

  it('a quota record and a quota notice from someone other than the leader: no request refused, health stays up; a real 402 still reaches everyone', async () => {
    const k = redisKeys();
    const marks = outputMarks();
    const load = new LoadLoop(followers).start();
    await client.hset(k.meta, 'q', String(Date.now()));
    await client.publish(k.changedChannel, 'quota');
    const forged = await watchHealth(2_000);
    // Again, insistently: a record and a notice every 100 ms for 2 s (the same record).
    const q = String(Date.now());
    const insisting = await watchHealth(2_000, async () => {
      await client.hset(k.meta, 'q', q);
      await client.publish(k.changedChannel, 'quota');
    });
    await load.stop();
    const quotaSeen = (await Promise.all(followers.map((w) => statusOf(w)))).some(
      (s) => s.quotaLimited,
    );

    // The real thing: PostHog answers 402 to the leader.
    const realAt = Date.now();
    fake.setFault({ kind: 'status', status: 402 });
    const realSeen = await waitUntil(
      async () => (await Promise.all(fleet.map((w) => statusOf(w)))).every((s) => s.quotaLimited),
      { timeoutMs: 10_000, intervalMs: 20, what: 'every process reporting the quota' },
    );
    fake.setFault(undefined);
    const recoveredMs = await allHealthy();

    const figures = {
      requests: load.total,
      refused: load.failed,
      forgedOnce: forged,
      forgedEvery100ms: insisting,
      realQuotaSeenByAllMs: realSeen.ms,
      sinceRealQuotaMs: Date.now() - realAt,
      recoveredMs,
      warnLinesPerProcess: logLinesSince(marks),
    };
    console.log(`meta q + quota notice: ${JSON.stringify(figures)}`);
    record('H9', 'Meta quota record and quota notice forged', figures);
    expect(load.failed).toBe(0);
    expect(forged.down + insisting.down).toBe(0);
    expect(quotaSeen).toBe(false);
    for (const n of figures.warnLinesPerProcess) expect(n).toBeLessThanOrEqual(10);
  });

  it('a 5 MiB leader id reaches neither /health nor the log, also when health fails', async () => {
    const { meta } = redisKeys();
    const marks = outputMarks();
    const netBefore = (await redisStats(client)).netOutputBytes;
    const readsBefore = (await redisStats(client)).calls.hmget ?? 0;
    const big = `evil:${'x'.repeat(5 * 1024 * 1024)}`;
    // The leader rewrites `l` at each verification: the attacker writes it again every 100 ms.
    const well = await watchHealth(2_000, async () => void (await client.hset(meta, 'l', big)));
    fake.setFault({ kind: 'status', status: 502 });
    await allDown(followers);
    await client.hset(meta, 'l', big);
    const failing = await watchHealth(2_000);
    const leaders = (await Promise.all(followers.map((w) => statusOf(w)))).map((s) => s.leader);
    fake.setFault(undefined);
    await allHealthy();
    const logBytes = fleet.map((w, i) => w.worker.output.length - marks[i]);
    const after = await redisStats(client);

    const figures = {
      well,
      failing,
      largestHealthBodyBytes: Math.max(well.maxBytes, failing.maxBytes),
      leaderShown: leaders,
      logBytesPerProcess: logBytes,
      // Still read before it is dropped: what a meta read costs on the wire while `l` is 5 MiB.
      redisMiBSentPerMetaRead: Number(
        (
          (after.netOutputBytes - netBefore) /
          Math.max(1, (after.calls.hmget ?? 0) - readsBefore) /
          1024 /
          1024
        ).toFixed(2),
      ),
      warnLinesPerProcess: logLinesSince(marks),
    };
    console.log(`meta l = 5 MiB: ${JSON.stringify(figures)}`);
    record('H10', 'Meta leader id of 5 MiB', figures);
    expect(well.down).toBe(0);
    expect(figures.largestHealthBodyBytes).toBeLessThan(10_000);
    for (const l of leaders) expect(l === null || l.length <= 256).toBe(true);
    for (const n of logBytes) expect(n).toBeLessThan(100_000);
  });

  it('meta pointing at another hash plus a flood of notices: one read (of each copy) per follower, no full fetch by the leader, a bounded log', async () => {
    const k = redisKeys();
    const marks = outputMarks();
    const before = await redisStats(client);
    const since = Date.now();
    const forgedHash = 'f'.repeat(16);
    let notices = 0;
    // 5 s: meta's hash forged again every 100 ms, and 100 notices each time (new-looking hashes,
    // the forged one, junk, and 1 KiB messages).
    const flood = await watchHealth(5_000, async () => {
      const batch = client.pipeline();
      batch.hset(k.meta, 'h', forgedHash);
      for (let i = 0; i < 100; i++) {
        const message =
          i % 4 === 0
            ? randomBytes(8).toString('hex')
            : i % 4 === 1
              ? forgedHash
              : i % 4 === 2
                ? `junk-${i}`
                : 'x'.repeat(1_024);
        batch.publish(k.changedChannel, message);
      }
      await batch.exec();
      notices += 100;
    });
    const after = await redisStats(client);
    // A full read is sized first (STRLEN, which no script calls): GETs also count the scripts' own.
    const fullReads = (after.calls.strlen ?? 0) - (before.calls.strlen ?? 0);
    const leaderFetches = definitionsRequestsOf(fake, fleet, since);
    const full200 = leaderFetches.filter((r) => r.status === 200).length;
    const logLines = logLinesSince(marks);
    const serving = (
      await Promise.all(followers.map((w) => httpGet(w.worker, '/checkout', 'u')))
    ).map((r) => r.status);

    const figures = {
      notices,
      forgedHashWrites: Math.round(notices / 100),
      followerFullReads: fullReads,
      metaReads: (after.calls.hmget ?? 0) - (before.calls.hmget ?? 0),
      leaderFetches: leaderFetches.length,
      leaderFull200s: full200,
      health: flood,
      warnLinesPerProcess: logLines,
      followersServing: serving,
    };
    console.log(`meta h forged + notice flood: ${JSON.stringify(figures)}`);
    record('H11', 'Meta hash pointing at another copy, plus a notice flood', figures);
    // A rejected hash is not read again until meta announces another: once per follower here, and
    // a read looks at both copies (the compressed one, then the JSON one a previous-release leader
    // may have written alone).
    expect(fullReads).toBeLessThanOrEqual(2 * followers.length);
    // The leader puts meta right from what it stored (the stored bytes are still its own): no
    // full body from PostHog for a forged hash.
    expect(full200).toBeLessThanOrEqual(1);
    expect(flood.down).toBe(0);
    expect(serving).toEqual([200, 200]);
    for (const n of logLines) expect(n).toBeLessThanOrEqual(10);
  });

  it('a lease holder that never verifies is reported by the followers, at most once a minute in the log', async () => {
    const k = redisKeys();
    const marks = outputMarks();
    // A token-shaped holder that renews its lease (the fleet's TTL) but never verifies.
    let renewing = true;
    const renewal = (async () => {
      while (renewing) {
        await client.set(k.lease, 'evil-host:1:deadbeef', 'PX', LEASE_TTL_MS);
        await sleep(INTERVAL_MS);
      }
    })();
    const reported = await waitUntil(
      async () => {
        const all = await Promise.all(fleet.map((w) => statusOf(w)));
        return all.every((s) => (s as { leaderStalled?: boolean }).leaderStalled) && all;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'every process reporting a stalled holder' },
    );
    await sleep(2_000); // the report lasts, in one log line
    // The whole run so far: the report is one line a minute at most (it may have come already
    // while PostHog failed in the first case, which stalls a holder too).
    const stalledLines = fleet.map(
      (w) =>
        w.worker.output.split('\n').filter((l) => /lease holder .* has not verified/.test(l))
          .length,
    );
    renewing = false;
    await renewal;
    const recoveredMs = await allHealthy();
    const cleared = (await Promise.all(fleet.map((w) => statusOf(w)))).every(
      (s) => !(s as { leaderStalled?: boolean }).leaderStalled,
    );

    const figures = {
      leaseTtlMs: LEASE_TTL_MS,
      reportedAfterMs: reported.ms,
      stalledLogLines: stalledLines,
      recoveredAfterRenewalStopsMs: recoveredMs,
      warnLinesPerProcess: logLinesSince(marks),
    };
    console.log(`stalled lease holder: ${JSON.stringify(figures)}`);
    record('H12', 'A lease holder that renews but never verifies', figures);
    expect(reported.ms).toBeGreaterThanOrEqual(3 * LEASE_TTL_MS - 2 * INTERVAL_MS);
    for (const n of stalledLines) {
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(2);
    }
    expect(cleared).toBe(true);
  });
});
