import { join } from 'node:path';
import { FakePostHog } from '../support/fake-posthog.js';
import { RedisServer } from '../support/redis-server.js';
import { median, percentile } from '../support/stats.js';
import { WorkerProcess } from '../support/worker-process.js';
import { BenchChild } from './child.js';
import { pinServer } from './cpu-pinning.js';
import type { BenchConfig } from './config.js';
import { PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { gateDefinitions } from './flag-sets.js';
import { load, type LoadResult } from './load.js';
import { fmt, fmtInt, round, type FigureRow } from './results.js';

export interface GuardResult {
  ungated: LoadResult;
  /** The same answer behind a guard that does nothing: the limit of any guard. */
  noOpGuard: LoadResult;
  /** The guard alone: a route with no flag parameters, like the OpenFeature app's. */
  gated: LoadResult;
  /** The guard plus `@FlagValue()` reading the decided value. */
  gatedWithValue: LoadResult;
  openFeature: LoadResult;
  /** Not measured in a quick run. */
  openFeatureUngated?: LoadResult;
  remote: LoadResult;
  /** Remote evaluation against a fake PostHog that answers `/flags` after a real round trip. */
  remoteRealistic: LoadResult;
  users: number;
  seconds: number;
  rounds: number;
  connections: number;
  /** Each route's req/s turn by turn: ratios are taken per round, where the machine was alike. */
  rpsByRound: Partial<Record<Route, number[]>>;
  /** Servers on a core of their own, the load generator on the other(s). */
  pinned: boolean;
}

type Route = Exclude<
  keyof GuardResult,
  'users' | 'seconds' | 'rounds' | 'connections' | 'rpsByRound' | 'pinned'
>;

/** Per-round results of one route, as one: mean rate and latencies, summed counts. */
function combine(results: LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number) =>
    results.reduce((sum, r) => sum + pick(r), 0) / results.length;
  return {
    rps: mean((r) => r.rps),
    p50Ms: mean((r) => r.p50Ms),
    p99Ms: mean((r) => r.p99Ms),
    total: results.reduce((sum, r) => sum + r.total, 0),
    failures: results.reduce((sum, r) => sum + r.failures, 0),
  };
}

/** PostHog's round trip as a real app sees it (tens of ms), injected at the fake. */
const REALISTIC_RTT_MS = 30;

/**
 * Remote evaluation: no secret key, no Redis — one `/flags` call per request, to a fake PostHog
 * in a child of its own (so it shares no event loop with autocannon either).
 */
async function startRemote(
  latencyMs: number,
  stops: Array<() => Promise<void>>,
): Promise<WorkerProcess> {
  const fake = await BenchChild.start(join(process.cwd(), '.build/test/support/fake-posthog.js'), {
    readyLine: /FAKE_POSTHOG_URL=(\S+)/,
    env: {
      FAKE_POSTHOG_PROJECT_API_KEY: PROJECT_API_KEY,
      FAKE_POSTHOG_FLAGS_LATENCY_MS: String(latencyMs),
    },
  });
  stops.unshift(() => fake.kill());
  const app = await WorkerProcess.start({ projectApiKey: PROJECT_API_KEY, host: fake.ready.line });
  stops.unshift(() => app.kill());
  return app;
}

/**
 * Figure 5. Every server runs in a child process of its own (autocannon stays in this one) and
 * only one is loaded at a time. All are started first and loaded in short turns, round after
 * round, so a change in the machine's background load hits every route alike instead of skewing a
 * ratio.
 */
export async function runGuardThroughput(config: BenchConfig): Promise<GuardResult> {
  const users = Array.from({ length: config.guardUsers }, (_, i) => `user-${i}`);
  const rounds = config.guardRounds;
  const fake = await FakePostHog.start({
    projectApiKey: PROJECT_API_KEY,
    secretKey: SECRET_KEY,
    definitions: gateDefinitions(true),
  });
  const redis = await RedisServer.start();
  const stops: Array<() => Promise<void>> = [() => fake.close(), () => redis.stop()];
  try {
    // This module in its real setup (leader through Redis); the request path touches neither.
    const app = await WorkerProcess.start({
      projectApiKey: PROJECT_API_KEY,
      secretKey: SECRET_KEY,
      host: fake.url,
      redis: redis.url,
      pollingIntervalMs: 30_000,
    });
    stops.unshift(() => app.kill());
    const openFeature = await BenchChild.start('openfeature-server.js');
    stops.unshift(() => openFeature.kill());
    const remoteApp = await startRemote(0, stops);
    const remoteRealisticApp = await startRemote(REALISTIC_RTT_MS, stops);

    const routes: Record<Route, { url: string; path: string }> = {
      ungated: { url: app.url, path: '/checkout/help' },
      noOpGuard: { url: app.url, path: '/reference/no-op-guard' },
      gated: { url: app.url, path: '/checkout/summary' },
      gatedWithValue: { url: app.url, path: '/checkout' },
      openFeature: { url: openFeature.url, path: '/checkout' },
      openFeatureUngated: { url: openFeature.url, path: '/checkout/help' },
      remote: { url: remoteApp.url, path: '/checkout/summary' },
      remoteRealistic: { url: remoteRealisticApp.url, path: '/checkout/summary' },
    };
    // The OpenFeature app's own ungated route is a reference only: skipped in a quick run.
    const names = (Object.keys(routes) as Route[]).filter(
      (name) => !config.quick || name !== 'openFeatureUngated',
    );
    const connections = config.guardConnections;
    const unpin = pinServer(
      [app, remoteApp, remoteRealisticApp].map((w) => w.child.pid!).concat(openFeature.child.pid!),
    );
    stops.unshift(async () => unpin?.());
    // Warm-up: every user once (the memo's first evaluations), then JIT and keep-alive sockets.
    for (const name of names) {
      await requestEachUser(routes[name].url, routes[name].path, users, connections);
      await load(routes[name].url, routes[name].path, users, {
        seconds: config.guardWarmupSeconds,
        connections,
      });
    }
    const runs = Object.fromEntries(names.map((name) => [name, [] as LoadResult[]])) as Record<
      Route,
      LoadResult[]
    >;
    for (let round = 0; round < rounds; round++) {
      // Forward, then backward: a drift in background load is spread evenly over the routes.
      for (const name of round % 2 === 0 ? names : names.toReversed()) {
        const seconds = config.guardSeconds / rounds;
        runs[name].push(
          await load(routes[name].url, routes[name].path, users, { seconds, connections }),
        );
      }
    }
    return {
      ungated: combine(runs.ungated),
      noOpGuard: combine(runs.noOpGuard),
      gated: combine(runs.gated),
      gatedWithValue: combine(runs.gatedWithValue),
      openFeature: combine(runs.openFeature),
      openFeatureUngated: names.includes('openFeatureUngated')
        ? combine(runs.openFeatureUngated)
        : undefined,
      remote: combine(runs.remote),
      remoteRealistic: combine(runs.remoteRealistic),
      users: users.length,
      seconds: config.guardSeconds,
      rounds,
      connections,
      rpsByRound: Object.fromEntries(names.map((name) => [name, runs[name].map((r) => r.rps)])),
      pinned: unpin !== undefined,
    };
  } finally {
    for (const stop of stops) await stop();
  }
}

/** One request per user, `concurrency` at a time: each user's first evaluation, off the clock. */
async function requestEachUser(
  url: string,
  path: string,
  users: readonly string[],
  concurrency: number,
): Promise<void> {
  for (let i = 0; i < users.length; i += concurrency) {
    await Promise.all(
      users.slice(i, i + concurrency).map(async (user) => {
        const response = await fetch(`${url}${path}`, {
          headers: { authorization: `Bearer ${user}` },
        });
        await response.arrayBuffer();
      }),
    );
  }
}

/** a ÷ b round by round: its median, and the middle half of the rounds. */
function ratioByRound(a: readonly number[], b: readonly number[]) {
  const ratios = a.map((value, i) => value / b[i]);
  return { median: median(ratios), p25: percentile(ratios, 25), p75: percentile(ratios, 75) };
}

function describeLoad(r: LoadResult): string {
  const failures = r.failures > 0 ? ` · ${fmtInt(r.failures)} failed!` : '';
  return `${fmtInt(r.rps)} req/s · p50 ${fmt(r.p50Ms, 1)} ms · p99 ${fmt(r.p99Ms, 1)} ms${failures}`;
}

export function guardRows(g: GuardResult): FigureRow[] {
  const pinning = g.pinned ? 'server on a core of its own' : 'unpinned';
  const how = `${g.seconds} s in ${g.rounds} turn${g.rounds > 1 ? 's' : ''}, ${g.connections} connections, ${fmtInt(g.users)} users rotating, ${pinning}`;
  const raw = (title: string, subject: string, r: LoadResult): FigureRow => ({
    id: '5',
    title,
    subject,
    value: round(r.rps, 1),
    unit: 'req/s',
    display: describeLoad(r),
    details: { ...r },
  });
  const ratio = (id: string, title: string, a: Route, b: Route, target: number): FigureRow => {
    const ra = g[a] as LoadResult;
    const rb = g[b] as LoadResult;
    const byRound = ratioByRound(g.rpsByRound[a] ?? [ra.rps], g.rpsByRound[b] ?? [rb.rps]);
    const spread =
      g.rounds > 1 ? `, middle half of turns ${fmt(byRound.p25)}–${fmt(byRound.p75)}` : '';
    return {
      id,
      title: `${title}, median of the turns' ratios`,
      subject: 'this module',
      value: round(byRound.median, 3),
      unit: 'ratio',
      display: `${fmt(byRound.median)} (p99 ${fmt(ra.p99Ms, 1)} vs ${fmt(rb.p99Ms, 1)} ms${spread})`,
      goal: { op: '>=', target, text: `≥ ${fmt(target, target >= 10 ? 0 : 2)}` },
      details: { ...byRound, ofMeans: round(ra.rps / rb.rps, 3) },
    };
  };
  const remote = raw(
    'guard: gated route /checkout/summary, remote evaluation per request',
    'this module, remote mode (fake PostHog)',
    g.remote,
  );
  remote.note =
    'remote evaluation against a fake PostHog on loopback (sub-millisecond answers): the best case for remote';
  const remoteRealistic = raw(
    `guard: gated route /checkout/summary, remote evaluation per request, PostHog ${REALISTIC_RTT_MS} ms away`,
    `this module, remote mode (fake PostHog + ${REALISTIC_RTT_MS} ms per /flags)`,
    g.remoteRealistic,
  );
  remoteRealistic.note = `the same, with ${REALISTIC_RTT_MS} ms added to each /flags answer at the fake: a real PostHog round trip; ${g.connections} connections cap it near ${g.connections} ÷ RTT`;
  return [
    raw(`guard: ungated route /checkout/help (${how})`, "example app (this module's)", g.ungated),
    raw(
      'guard: route behind a guard that does nothing, /reference/no-op-guard',
      'the limit of any guard (same app, same answer)',
      g.noOpGuard,
    ),
    raw('guard: gated route /checkout/summary, memo warm', 'this module @FeatureFlag', g.gated),
    raw(
      'guard: gated route /checkout with @FlagValue, memo warm',
      'this module @FeatureFlag + @FlagValue',
      g.gatedWithValue,
    ),
    raw(
      'guard: gated route /checkout',
      'OpenFeature @RequireFlagsEnabled + InMemoryProvider',
      g.openFeature,
    ),
    ...(g.openFeatureUngated
      ? [
          raw(
            'guard: ungated route /checkout/help (reference)',
            'OpenFeature app',
            g.openFeatureUngated,
          ),
        ]
      : []),
    remote,
    remoteRealistic,
    ratio('5a', 'gated ÷ ungated (req/s)', 'gated', 'ungated', 0.95),
    ratio('5d', 'gated ÷ no-op guard (req/s)', 'gated', 'noOpGuard', 0.97),
    {
      ...ratio(
        '5a+',
        'gated with @FlagValue ÷ ungated (req/s), for reference',
        'gatedWithValue',
        'ungated',
        0.95,
      ),
      goal: undefined,
    },
    ratio('5b', 'this guard ÷ OpenFeature (req/s)', 'gated', 'openFeature', 1),
    ratio('5c', 'this guard ÷ remote evaluation on loopback (req/s)', 'gated', 'remote', 10),
    ratio(
      '5e',
      `this guard ÷ remote evaluation, PostHog ${REALISTIC_RTT_MS} ms away (req/s)`,
      'gated',
      'remoteRealistic',
      10,
    ),
  ];
}
