import { FakePostHog, booleanFlag } from '../support/fake-posthog.js';
import { previousReleaseWorker } from '../support/previous-release.js';
import { RedisServer } from '../support/redis-server.js';
import type { BenchConfig } from './config.js';
import { GATE_FLAG, PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { CountingProxy } from './counting-proxy.js';
import { variedFlags } from './flag-sets.js';
import { RedisTrafficMeter, trafficDelta } from './redis-traffic.js';
import { startMember, waitReady, type FleetMember } from './fleet.js';
import { sleep, statusOf, until } from './http-probe.js';
import { fmt, fmtBytes, percentile, round, type FigureRow } from './results.js';

/** Which build runs the fleet: the release before compression (JSON copy) or this one. */
export type Release = 'previous' | 'this';

export interface FanOutResult {
  release: Release;
  flags: number;
  followers: number;
  changes: number;
  /** Bytes Redis sent to one follower per change (all its reads while the change spread). */
  bytesPerFollower: number;
  /** Per change: ms from the leader's download of the change until every follower served it. */
  spreadMs: number[];
  /** With nothing changing, per poll interval, the whole fleet (leader + followers). */
  steady: {
    intervals: number;
    commands: number;
    /** Calls per interval of each command. */
    byCommand: Record<string, number>;
    bytesIn: number;
    bytesOut: number;
    fetches: number;
  };
}

const PROBE_USER = 'bench-user';

/** The varied generator: it compresses least of the two (figure codec), so the ratio is conservative. */
function definitions(flags: number, on: boolean) {
  return {
    flags: [booleanFlag(GATE_FLAG, { rolloutPercentage: on ? 100 : 0 }), ...variedFlags(flags - 1)],
  };
}

/**
 * Figure 8: one definitions change reaching every follower. A leader connects to Redis directly;
 * the followers through a byte-counting proxy, so what they pull out of Redis is measured
 * exactly. The change is timed from the leader's download (the fake's first 200 with it) until
 * every follower's gated route answers with the new value. One fleet per release goes through
 * every size in `flagCounts` (the first change to a new size is not measured).
 */
export async function runFanOut(
  release: Release,
  flagCounts: readonly number[],
  config: BenchConfig,
): Promise<FanOutResult[]> {
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: definitions(flagCounts[0], false),
  });
  const redis = await RedisServer.start();
  const proxy = await CountingProxy.start(redis.port);
  const members: FleetMember[] = [];
  const setup = {
    variant: 'module' as const,
    host: fake.url,
    redisUrl: redis.url,
    intervalMs: config.intervalMs,
    workerEntry: release === 'previous' ? previousReleaseWorker() : undefined,
    // One leader throughout: at the bench's 200 ms interval the default lease (3 intervals) can
    // lapse while a process digests 8,000 flags, and a follower that takes over downloads from
    // PostHog instead of reading Redis, which this figure would then miss.
    moduleOverrides: { leaseTtlMs: 10_000 },
  };
  try {
    const leader = await startMember(setup);
    members.push(leader);
    const leads = await until(
      async () => (await leader.role()) === 'leader' && (await leader.ready()),
      performance.now() + 30_000,
      50,
    );
    if (!leads) throw new Error(`the first process did not lead (${await leader.role()})`);
    const followers = await Promise.all(
      Array.from({ length: config.fanOutFollowers }, () =>
        startMember({ ...setup, redisUrl: proxy.url }),
      ),
    );
    members.push(...followers);
    await Promise.all(followers.map((f) => waitReady(f, 30_000)));
    const results: FanOutResult[] = [];
    let on = false;
    /** Flips the gate (in a set of `flags`): resolves ms from the leader's download until every follower served it. */
    const change = async (flags: number): Promise<number> => {
      await sleep(2 * config.intervalMs);
      on = !on;
      const served = fake.counts.definitions200;
      const deadline = performance.now() + 20 * config.intervalMs + 10_000;
      fake.setDefinitions(definitions(flags, on));
      await until(() => fake.counts.definitions200 > served, deadline);
      const fetchedAt = performance.now();
      const seen = await Promise.all(
        followers.map(async (follower) => {
          const ok = await until(
            async () => ((await statusOf(follower.url, '/checkout', PROBE_USER)) === 200) === on,
            deadline,
            2,
          );
          return ok ? performance.now() - fetchedAt : Number.NaN;
        }),
      );
      return Math.max(...seen);
    };
    for (const [index, flags] of flagCounts.entries()) {
      if (index > 0) await change(flags); // to the new size: not measured
      const spreadMs: number[] = [];
      let bytes = 0;
      for (let i = 0; i < config.fanOutChanges; i++) {
        proxy.reset();
        spreadMs.push(await change(flags));
        bytes += proxy.toClient;
      }
      const steady = await steadyWindow(redis.url, fake, config);
      results.push({
        release,
        flags,
        followers: followers.length,
        changes: config.fanOutChanges,
        bytesPerFollower: bytes / config.fanOutChanges / followers.length,
        spreadMs,
        steady,
      });
    }
    if ((await leader.role()) !== 'leader') throw new Error('the leader changed during the run');
    return results;
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    await proxy.close();
    await fake.close();
    await redis.stop();
  }
}

/** Redis's own counters over unchanged intervals: the constants of the README's capacity model. */
async function steadyWindow(
  redisUrl: string,
  fake: FakePostHog,
  config: BenchConfig,
): Promise<FanOutResult['steady']> {
  await sleep(2 * config.intervalMs);
  const meter = await RedisTrafficMeter.open(redisUrl);
  try {
    const before = await meter.read();
    const fetchesBefore = fake.counts.definitions;
    const started = performance.now();
    await sleep(config.bytesIntervals * config.intervalMs);
    const after = await meter.read();
    const intervals = (performance.now() - started) / config.intervalMs;
    const delta = trafficDelta(before, after);
    const byCommand = Object.fromEntries(
      Object.keys(after.calls)
        .filter((name) => name !== 'info' && delta.calls(name) > 0)
        .map((name) => [name, round(delta.calls(name) / intervals, 2)]),
    );
    const commands = Object.values(byCommand).reduce((sum, n) => sum + n, 0);
    return {
      intervals: round(intervals, 1),
      commands: round(commands, 2),
      byCommand,
      bytesIn: round(delta.netIn / intervals, 0),
      bytesOut: round(delta.netOut / intervals, 0),
      fetches: round((fake.counts.definitions - fetchesBefore) / intervals, 2),
    };
  } finally {
    meter.close();
  }
}

const LABEL: Record<Release, string> = {
  previous: 'previous release (JSON copy)',
  this: 'this module (compressed copy)',
};

export function fanOutRows(results: readonly FanOutResult[]): FigureRow[] {
  const rows: FigureRow[] = results.map((r) => ({
    id: '8',
    title: `change fan-out, ${r.flags} flags: Redis bytes out per follower, time until every follower serves`,
    subject: LABEL[r.release],
    baseline: r.release === 'previous',
    value: round(r.bytesPerFollower, 0),
    unit: 'B/follower/change',
    display: `${fmtBytes(r.bytesPerFollower)} per follower per change; all ${r.followers} followers serve it ${fmt(percentile(r.spreadMs, 50), 0)} ms (max ${fmt(Math.max(...r.spreadMs), 0)} ms) after the leader's download (${r.changes} changes)`,
    note: "followers through a byte-counting TCP proxy (leader direct): every byte Redis sent them from the change until all served it, ÷ followers ÷ changes; time from the fake's first 200 with the change until each follower's gated route flipped",
    details: { ...r },
  }));
  for (const r of results.filter((result) => result.release === 'this')) {
    const pods = r.followers + 1;
    const s = r.steady;
    // What clients send (scripts count once); commandstats also counts the calls inside scripts.
    const requests = ['evalsha', 'eval', 'hmget', 'strlen'].reduce(
      (sum, name) => sum + (s.byCommand[name] ?? 0),
      0,
    );
    rows.push({
      id: '8',
      title: `steady state, ${r.flags} flags, 1 leader + ${r.followers} followers: Redis requests and bytes per poll interval, PostHog requests`,
      subject: LABEL[r.release],
      value: round(requests, 2),
      unit: 'requests/interval',
      display: `${fmt(requests, 2)} requests per interval for ${pods} processes (${fmt(s.commands, 1)} commands counting those inside scripts), ${fmtBytes(s.bytesIn + s.bytesOut)} per interval (in ${fmtBytes(s.bytesIn)} + out ${fmtBytes(s.bytesOut)}); ${fmt(s.fetches, 2)} PostHog requests per interval (${s.intervals} intervals)`,
      note: 'INFO commandstats and total_net_input/output_bytes deltas (the meter’s own INFO excluded) over unchanged intervals, whole fleet; requests = EVALSHA + EVAL + HMGET + STRLEN calls',
      details: { ...s, pods, requests },
    });
  }
  for (const flags of new Set(results.map((r) => r.flags))) {
    const before = results.find((r) => r.flags === flags && r.release === 'previous');
    const after = results.find((r) => r.flags === flags && r.release === 'this');
    if (!before || !after) continue;
    const ratio = before.bytesPerFollower / Math.max(after.bytesPerFollower, 1);
    rows.push({
      id: '8',
      title: `change fan-out, ${flags} flags: bytes per follower, previous ÷ this`,
      subject: 'this module',
      value: round(ratio, 1),
      unit: '×',
      display: `${fmt(ratio, 1)}× fewer bytes (${fmtBytes(before.bytesPerFollower)} → ${fmtBytes(after.bytesPerFollower)})`,
      goal: flags >= 8_000 ? { op: '>=', target: 5, text: '≥ 5× at 8,000 flags' } : undefined,
    });
  }
  return rows;
}
