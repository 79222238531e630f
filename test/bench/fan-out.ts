import { FakePostHog, booleanFlag } from '../support/fake-posthog.js';
import { previousReleaseWorker } from '../support/previous-release.js';
import { RedisServer } from '../support/redis-server.js';
import type { BenchConfig } from './config.js';
import { GATE_FLAG, PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { CountingProxy } from './counting-proxy.js';
import { variedFlags } from './flag-sets.js';
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
 * every follower's gated route answers with the new value.
 */
export async function runFanOut(
  release: Release,
  flags: number,
  config: BenchConfig,
): Promise<FanOutResult> {
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: definitions(flags, false),
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
    const spreadMs: number[] = [];
    let bytes = 0;
    let on = false;
    for (let i = 0; i < config.fanOutChanges; i++) {
      await sleep(2 * config.intervalMs);
      on = !on;
      const served = fake.counts.definitions200;
      proxy.reset();
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
      spreadMs.push(Math.max(...seen));
      bytes += proxy.toClient;
    }
    if ((await leader.role()) !== 'leader') throw new Error('the leader changed during the run');
    return {
      release,
      flags,
      followers: followers.length,
      changes: config.fanOutChanges,
      bytesPerFollower: bytes / config.fanOutChanges / followers.length,
      spreadMs,
    };
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    await proxy.close();
    await fake.close();
    await redis.stop();
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
