import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PostHogFlagsModuleOptions } from '../src/index.js';
import { RedisMonitor } from './faults/support-redis-watch.js';
import type { ProbeRecord } from './support/change-probe.module.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisServer } from './support/redis-server.js';
import { WorkerProcess } from './support/worker-process.js';
import { percentile } from './support/stats.js';

const INTERVAL_MS = 200;
const ROUNDS = 25;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const definitions = (checkoutRollout: number, shippingRollout = 50) => ({
  flags: [
    booleanFlag('new-checkout', { rolloutPercentage: checkoutRollout }),
    booleanFlag('express-shipping', { rolloutPercentage: shippingRollout }),
  ],
});

type Rollout = { filters: { groups: Array<{ rollout_percentage: number }> } } | undefined;
const rolloutOf = (flag: unknown) => (flag as Rollout)?.filters.groups[0].rollout_percentage;

// Three shared processes (one leads, two follow) and a reader (no secret: it only reads Redis).
describe('@OnFlagChange in 4 real processes sharing one Redis', () => {
  let fake: FakePostHog;
  let redis: RedisServer;
  let monitor: RedisMonitor;
  let workers: WorkerProcess[] = [];

  const options = (reader: boolean): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: reader ? undefined : fake.secretKey,
    host: fake.url,
    redis: redis.url,
    pollingIntervalMs: INTERVAL_MS,
  });
  const probes = () =>
    Promise.all(workers.map(async (w) => (await w.get('/change-probe')).body as ProbeRecord));

  /** The latest record each worker sent over IPC: waiting does not load the workers. */
  let pushed: ProbeRecord[] = [];
  async function waitFor(done: (records: ProbeRecord[]) => boolean, what: string) {
    const deadline = Date.now() + 5_000;
    while (!done(pushed)) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await sleep(5);
    }
    return pushed;
  }

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: definitions(0) });
    redis = await RedisServer.start();
    monitor = await RedisMonitor.start(redis.url);
    workers = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        WorkerProcess.start(options(i === 3), { env: { WORKER_CHANGE_PROBE: '1' } }),
      ),
    );
    pushed = workers.map(() => ({ checkout: [], unrelated: [], throwingCalls: 0 }));
    workers.forEach((worker, i) =>
      worker.child.on('message', (message: { type?: string; record?: ProbeRecord }) => {
        if (message?.type === 'change-probe') pushed[i] = message.record!;
      }),
    );
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const statuses = await Promise.all(workers.map((w) => w.status()));
      if (statuses.every((s) => s.ready) && statuses.some((s) => s.role === 'leader')) break;
      await sleep(50);
    }
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    monitor?.close();
    await fake?.close();
    await redis?.stop();
  });

  it('fires nothing for the first load', async () => {
    await sleep(3 * INTERVAL_MS);
    for (const record of await probes()) {
      expect(record).toEqual({ checkout: [], unrelated: [], throwingCalls: 0 });
    }
  });

  it('fires each change once in every process, with the diff, soon after the leader writes it', async () => {
    const roles = (await Promise.all(workers.map((w) => w.status()))).map((s) => s.role);
    expect(roles.toSorted((a: string, b: string) => a.localeCompare(b))).toEqual([
      'follower',
      'follower',
      'leader',
      'reader',
    ]);
    const latencies: Array<{ ms: number; leader: boolean }> = [];

    for (let round = 1; round <= ROUNDS; round++) {
      const changedAt = Date.now();
      fake.setDefinitions(definitions(round % 2 === 1 ? 100 : 0));
      const records = await waitFor(
        (all) => all.every((r) => r.checkout.length >= round),
        `round ${round} in every process`,
      );
      const write = monitor.commands.find((c) => c.name === 'write' && c.at >= changedAt - 1);
      expect(write).toBeDefined();
      records.forEach((record, i) => {
        latencies.push({
          ms: record.checkout[round - 1].firedAt - write!.at,
          leader: roles[i] === 'leader',
        });
      });
    }

    // Nothing late or doubled: exactly one call per change in each process.
    await sleep(3 * INTERVAL_MS);
    const records = await probes();
    for (const record of records) {
      expect(record.checkout).toHaveLength(ROUNDS);
      record.checkout.forEach(({ event, checkoutEnabled }, i) => {
        const on = (i + 1) % 2 === 1;
        expect(event.keys).toEqual(['new-checkout']);
        expect(event.changes).toHaveLength(1);
        expect(event.changes[0]).toMatchObject({ key: 'new-checkout', kind: 'changed' });
        expect(rolloutOf(event.changes[0].previous)).toBe(on ? 0 : 100);
        expect(rolloutOf(event.changes[0].current)).toBe(on ? 100 : 0);
        // The listener evaluated after the new definitions were in effect.
        expect(checkoutEnabled).toBe(on);
      });
      expect(record.unrelated).toEqual([]);
      // The throwing listener ran every time, and the others regardless (above).
      expect(record.throwingCalls).toBe(ROUNDS);
    }
    for (const worker of workers) {
      // Logged, at most once a minute: one line for 25 failures.
      const lines = worker.output.split('\n').filter((line) => line.includes('alwaysThrows'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('@OnFlagChange listener ChangeProbe.alwaysThrows failed');
      expect((await worker.status()).ready).toBe(true);
    }

    const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
    const followers = latencies
      .filter((l) => !l.leader)
      .map((l) => l.ms)
      .sort((a, b) => a - b);
    const figure = (values: number[]) =>
      `p50 ${percentile(values, 50)} ms, p99 ${percentile(values, 99)} ms, max ${values.at(-1)} ms`;
    console.log(
      `@OnFlagChange after the leader's Redis write, ${ROUNDS} changes x 4 processes (${all.length} listener calls): ${figure(all)}; followers and the reader (${followers.length}): ${figure(followers)}. ` +
        `(The leader's own listener may run before its write completes: a negative figure.)`,
    );
    expect(percentile(all, 99)).toBeLessThanOrEqual(100);
  });

  it('fires a listener on another flag only when that flag changes', async () => {
    fake.setDefinitions(definitions(ROUNDS % 2 === 1 ? 100 : 0, 75));
    await waitFor((all) => all.every((r) => r.unrelated.length === 1), 'express-shipping');
    await sleep(3 * INTERVAL_MS);
    for (const record of await probes()) {
      expect(record.unrelated).toHaveLength(1);
      expect(record.unrelated[0].event.keys).toEqual(['express-shipping']);
      expect(record.checkout).toHaveLength(ROUNDS);
    }
  });
});
