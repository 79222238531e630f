import { FakePostHog, manyFlags } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { WorkerProcess } from '../support/worker-process.js';
import type { BenchConfig } from './config.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { sleep } from './http-probe.js';
import { round, type FigureRow } from './results.js';
import { median } from '../support/stats.js';

export interface FollowerCpuResult {
  flags: number;
  intervalMs: number;
  /** CPU ms per interval of each window: the follower, and an idle app of the same build. */
  followerWindows: number[];
  idleWindows: number[];
  /** Median follower window minus median idle window. */
  perIntervalMs: number;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1_000;
/**
 * Figure 10: CPU a follower spends per interval while 8,000 flags (1,000 in a quick run) stay unchanged (one meta read,
 * nothing handed to posthog-node), beside an idle app of the same build with no flags to follow.
 * Several windows, the median kept: one stray GC or a busy neighbour moves one window only.
 */
export async function runFollowerCpu(config: BenchConfig): Promise<FollowerCpuResult> {
  // A quick run only checks the figure is produced: a smaller set loads faster.
  const FLAGS = config.quick ? 1_000 : 8_000;
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: { flags: manyFlags(FLAGS) },
  });
  const redis = await RedisServer.start();
  const workers: WorkerProcess[] = [];
  try {
    const options = {
      projectApiKey: PROJECT_API_KEY,
      secretKey: SECRET_KEY,
      host: fake.url,
      redis: redis.url,
      pollingIntervalMs: config.intervalMs,
      startupTimeoutMs: 20_000,
    };
    const leader = await WorkerProcess.start(options, { timeoutMs: 60_000 });
    workers.push(leader);
    const follower = await WorkerProcess.start(options, { timeoutMs: 60_000 });
    workers.push(follower);
    const idle = await WorkerProcess.start({
      projectApiKey: PROJECT_API_KEY,
      definitions: { flags: [] },
    });
    workers.push(idle);
    for (let i = 0; i < 100 && (await follower.status()).flagCount !== FLAGS; i++) await sleep(200);
    if ((await follower.status()).role !== 'follower')
      throw new Error('the second process is not a follower');
    await sleep(10 * config.intervalMs); // past the first read's garbage
    const followerWindows: number[] = [];
    const idleWindows: number[] = [];
    for (let w = 0; w < config.cpuWindows; w++) {
      const before = await Promise.all([follower.cpuUsage(), idle.cpuUsage()]);
      const startedAt = Date.now();
      await sleep(config.cpuWindowIntervals * config.intervalMs);
      const after = await Promise.all([follower.cpuUsage(), idle.cpuUsage()]);
      const intervals = (Date.now() - startedAt) / config.intervalMs;
      followerWindows.push(round((cpuMs(after[0]) - cpuMs(before[0])) / intervals, 3));
      idleWindows.push(round((cpuMs(after[1]) - cpuMs(before[1])) / intervals, 3));
    }
    return {
      flags: FLAGS,
      intervalMs: config.intervalMs,
      followerWindows,
      idleWindows,
      perIntervalMs: round(median(followerWindows) - median(idleWindows), 3),
    };
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await fake.close();
    await redis.stop();
  }
}

export function followerCpuRows(r: FollowerCpuResult): FigureRow[] {
  return [
    {
      id: '10',
      title: `follower CPU per interval, ${r.flags} flags unchanged`,
      subject: 'this module (follower − idle app)',
      value: r.perIntervalMs,
      unit: 'ms/interval',
      display: `${r.perIntervalMs.toFixed(3)} ms (follower windows ${r.followerWindows.join(' / ')} ms, idle app ${r.idleWindows.join(' / ')} ms)`,
      note: `process.cpuUsage() of the child over IPC, ${r.followerWindows.length} windows, median kept; interval ${r.intervalMs} ms`,
      goal: { op: '<=', target: 1, text: '≤ 1 ms' },
      details: { ...r },
    },
  ];
}
