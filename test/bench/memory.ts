import { FakePostHog, manyFlags } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { BenchChild } from './child.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { gateDefinitions } from './flag-sets.js';
import type { MemoryProbeConfig, MemoryReading } from './memory-probe.js';
import { fmt, round, type FigureRow } from './results.js';

const FLAGS = 1_000;

export interface MemoryResult {
  flags: number;
  samples: number;
  leader: MemoryReading;
  follower: MemoryReading;
  posthog: MemoryReading;
}

/** The reading with the median RSS. */
function median(readings: MemoryReading[]): MemoryReading {
  return readings.toSorted((a, b) => a.rss - b.rss)[Math.floor(readings.length / 2)];
}

async function probe(config: MemoryProbeConfig, children: BenchChild[]): Promise<MemoryReading> {
  const child = await BenchChild.start('memory-probe.js', {
    env: { BENCH_MEMORY_PROBE: JSON.stringify(config) },
    execArgv: ['--expose-gc'],
    timeoutMs: 30_000,
  });
  children.push(child);
  const reading = child.message<MemoryReading>('memory');
  child.send({ type: 'measure' });
  return reading;
}

/** Figure 7: resident set after GC with 1 000 flags — module leader and follower vs posthog-node alone. */
export async function runMemory(intervalMs: number, samples: number): Promise<MemoryResult> {
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: { flags: [...gateDefinitions(true, 0).flags, ...manyFlags(FLAGS - 1)] },
  });
  const redis = await RedisServer.start();
  const children: BenchChild[] = [];
  const base = { host: fake.url, redisUrl: redis.url, pollingIntervalMs: intervalMs };
  try {
    // One at a time, each reading taken while the others are idle; RSS varies from process to
    // process by several MiB, so each kind is sampled `samples` times and the median kept.
    const leaders: MemoryReading[] = [];
    const followers: MemoryReading[] = [];
    const posthogs: MemoryReading[] = [];
    for (let i = 0; i < samples; i++) {
      leaders.push(await probe({ ...base, mode: 'module' }, children));
      followers.push(await probe({ ...base, mode: 'module' }, children));
      posthogs.push(await probe({ ...base, mode: 'posthog' }, children));
      // A fresh round: no process left, an empty Redis (no lease), so the first probe leads again.
      await Promise.all(children.splice(0).map((c) => c.kill()));
      await redis.restart();
    }
    return {
      flags: FLAGS,
      samples,
      leader: median(leaders),
      follower: median(followers),
      posthog: median(posthogs),
    };
  } finally {
    await Promise.all(children.map((c) => c.kill()));
    await fake.close();
    await redis.stop();
  }
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function memoryRows(m: MemoryResult): FigureRow[] {
  const leaderRatio = m.leader.rss / m.posthog.rss;
  const followerRatio = m.follower.rss / m.posthog.rss;
  return [
    {
      id: '7',
      title: `memory: RSS after GC holding ${m.flags.toLocaleString('en-US')} flags, module ÷ posthog-node alone (both in a Nest app context)`,
      subject: 'this module',
      value: round(Math.max(leaderRatio, followerRatio), 3),
      unit: 'ratio',
      display:
        `${m.leader.role} ${fmt(leaderRatio)} (${mib(m.leader.rss)}) · ${m.follower.role} ${fmt(followerRatio)} (${mib(m.follower.rss)}) ` +
        `vs ${mib(m.posthog.rss)}; heap ${mib(m.leader.heapUsed)} / ${mib(m.follower.heapUsed)} vs ${mib(m.posthog.heapUsed)}`,
      goal: { op: '<=', target: 1.2, text: '≤ 1.20 (leader and follower)' },
      note: `process.memoryUsage().rss after 4 forced GCs (--expose-gc), median of ${m.samples} process${m.samples > 1 ? 'es' : ''} of each kind; both sides run a Nest application context and evaluate the gate for the same 200 users`,
      details: { ...m, leaderRatio: round(leaderRatio, 3), followerRatio: round(followerRatio, 3) },
    },
  ];
}
