import { FakePostHog, manyFlags } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import type { BenchConfig } from './config.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { startMember, VARIANT_LABEL, waitReady, type FleetMember, type Variant } from './fleet.js';
import { sleep } from './http-probe.js';
import { CountingProxy } from './counting-proxy.js';
import { RedisTrafficMeter, trafficDelta } from './redis-traffic.js';
import { fmtBytes, round, type FigureRow } from './results.js';

export interface BytesResult {
  variant: Variant;
  flags: number;
  polls: number;
  /** Bytes the measured processes sent to Redis / received from it in the window. */
  netIn: number;
  netOut: number;
  bytesPerPoll: number;
  /** Redis's own count (INFO stats) of all traffic in the window, meter excluded: a cross-check. */
  serverTotal: number;
  method: string;
}

const FLAGS = 500;
const FOLLOWERS = 2;

/**
 * Figure 4: Redis bytes per follower poll with unchanged definitions (500 flags). The measured
 * processes reach Redis through a byte-counting proxy; for the module the leader connects
 * directly (at the same interval: followers skip the lease call while they see it verify), so
 * only followers are counted. For the naive pattern every process polls and all are counted.
 */
export async function runFollowerBytes(
  variant: Variant,
  config: BenchConfig,
): Promise<BytesResult> {
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: { flags: manyFlags(FLAGS) },
  });
  const redis = await RedisServer.start();
  const proxy = await CountingProxy.start(redis.port);
  const members: FleetMember[] = [];
  const setup = { variant, host: fake.url, redisUrl: redis.url, intervalMs: config.intervalMs };
  let meter: RedisTrafficMeter | undefined;
  try {
    if (variant === 'module') {
      const leader = await startMember(setup);
      members.push(leader);
      if (!(await waitReady(leader)) || (await leader.role()) !== 'leader') {
        throw new Error('the first process did not become the leader');
      }
    }
    const pollers = variant === 'module' ? FOLLOWERS : FOLLOWERS + 1;
    const measured = { ...setup, redisUrl: proxy.url };
    members.push(
      ...(await Promise.all(Array.from({ length: pollers }, () => startMember(measured)))),
    );
    await Promise.all(members.map((m) => waitReady(m)));
    await sleep(3 * config.intervalMs);

    meter = await RedisTrafficMeter.open(redis.url);
    fake.resetCounts();
    const before = await meter.read();
    proxy.reset();
    await sleep(config.bytesIntervals * config.intervalMs);
    const netIn = proxy.toServer;
    const netOut = proxy.toClient;
    const after = await meter.read();
    const delta = trafficDelta(before, after);
    // Module: one HMGET of `meta` per follower poll, and only followers call it. Naive: one
    // `SET NX` per poll, plus one data `SET` per 200 the winner got.
    const polls =
      variant === 'module' ? delta.calls('hmget') : delta.calls('set') - fake.counts.definitions200;
    return {
      variant,
      flags: FLAGS,
      polls,
      netIn,
      netOut,
      bytesPerPoll: (netIn + netOut) / Math.max(polls, 1),
      serverTotal: delta.netIn + delta.netOut,
      method:
        variant === 'module'
          ? 'followers through a byte-counting TCP proxy (leader direct) ÷ HMGET calls (INFO commandstats)'
          : 'every process through a byte-counting TCP proxy ÷ polls (SET NX calls − data writes)',
    };
  } finally {
    meter?.close();
    await Promise.all(members.map((m) => m.kill()));
    await proxy.close();
    await fake.close();
    await redis.stop();
  }
}

export function bytesRows(results: readonly BytesResult[]): FigureRow[] {
  return results.map((b) => ({
    id: '4',
    title: `follower Redis bytes per poll, ${b.flags} flags, unchanged definitions`,
    subject:
      b.variant === 'module' ? VARIANT_LABEL.module : `${VARIANT_LABEL[b.variant]}, every process`,
    baseline: b.variant !== 'module',
    value: round(b.bytesPerPoll, 1),
    unit: 'B/poll',
    display: `${fmtBytes(b.bytesPerPoll)} (in ${fmtBytes(b.netIn / Math.max(b.polls, 1))} + out ${fmtBytes(b.netOut / Math.max(b.polls, 1))}; ${b.polls} polls)`,
    note: b.method,
    goal: { op: '<=', target: 200, text: '≤ 200 B' },
    details: { ...b },
  }));
}
