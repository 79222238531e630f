import type { Registry } from 'prom-client';
import type { FetchOutcome, FlagsEventMap, FlagsStatusTracker } from '../flags-status.js';
import {
  PROPAGATION_BUCKETS_SECONDS,
  evaluationResult,
  flagLabel,
} from './shared-metric-shapes.js';

/**
 * What the module needs of a prom-client `Registry`. Structural on purpose: prom-client is an
 * optional peer, so the emitted .d.ts must not import it (TS2307 in apps without it).
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/** `metrics` option: `true` for prom-client's default registry, or a registry and a name prefix. */
export interface PostHogFlagsMetricsOptions {
  /** A prom-client `Registry`. Default: prom-client's global `register`. */
  registry?: MetricsRegistry;
  /** Default `posthog_flags_`. */
  prefix?: string;
}

/**
 * Publishes the tracker's counters to Prometheus through prom-client (an optional peer). Returns a
 * function that removes them again. Nothing is counted unless this was called.
 */
export async function registerMetrics(
  status: FlagsStatusTracker,
  options: PostHogFlagsMetricsOptions,
): Promise<() => void> {
  let prom: typeof import('prom-client');
  try {
    prom = await import('prom-client');
  } catch {
    throw new Error('metrics: the prom-client package is not installed (npm install prom-client)');
  }
  const registry = (options.registry as Registry | undefined) ?? prom.register;
  const prefix = options.prefix ?? 'posthog_flags_';
  const registers = [registry];
  const names: string[] = [];
  const named = (name: string) => {
    names.push(`${prefix}${name}`);
    return `${prefix}${name}`;
  };
  const fetches = new prom.Counter({
    name: named('definition_fetches_total'),
    help: 'Flag definition requests to PostHog by outcome (200, 304, 401, 402, 403, 429, 5xx, error)',
    labelNames: ['outcome'],
    registers,
  });
  const lease = new prom.Counter({
    name: named('lease_events_total'),
    help: 'Leader lease acquisitions, losses and releases by this process',
    labelNames: ['event'],
    registers,
  });
  const followerReads = new prom.Counter({
    name: named('follower_reads_total'),
    help: 'Follower reads of the shared definitions: unchanged (meta only), full, invalid',
    labelNames: ['result'],
    registers,
  });
  const evaluations = new prom.Counter({
    name: named('evaluations_total'),
    help: 'Flag checks by the guard and the service, by flag (keys not in the definitions: "(unknown)") and result',
    labelNames: ['flag', 'result'],
    registers,
  });
  new prom.Gauge({
    name: named('definitions_age_seconds'),
    help: 'Seconds since PostHog last confirmed the definitions (200 or 304 seen by any leader)',
    registers,
    collect() {
      const ageMs = status.snapshot().ageMs;
      if (ageMs !== null) this.set(ageMs / 1_000);
    },
  });
  new prom.Gauge({
    name: named('unsafe_flags'),
    help: 'Flags denied for everyone because a regex condition could stall the process (ReDoS)',
    registers,
    collect() {
      this.set(status.unsafeFlags.length);
    },
  });
  new prom.Gauge({
    name: named('is_leader'),
    help: '1 while this process holds the definitions lease',
    registers,
    collect() {
      this.set(status.role === 'leader' ? 1 : 0);
    },
  });
  new prom.Gauge({
    name: named('redis_up'),
    help: '1 while Redis answers, 0 while this process polls PostHog alone (absent without Redis)',
    registers,
    collect() {
      if (status.redis !== 'none') this.set(status.redis === 'ready' ? 1 : 0);
    },
  });
  new prom.Gauge({
    name: named('quota_limited'),
    help: '1 while PostHog reports the project over its feature flag quota (402)',
    registers,
    collect() {
      this.set(status.quotaLimited ? 1 : 0);
    },
  });
  new prom.Gauge({
    name: named('leader_stalled'),
    help: '1 on a follower whose lease holder renews the lease but has not verified definitions for 3 lease TTLs',
    registers,
    collect() {
      this.set(status.leaderStalled() ? 1 : 0);
    },
  });
  const propagation = new prom.Histogram({
    name: named('change_propagation_seconds'),
    help: "Followers and readers: from the leader's fetch of new definitions to holding them here",
    buckets: PROPAGATION_BUCKETS_SECONDS,
    registers,
  });
  const unsubscribe = status.onEvent((event, value) => {
    if (event === 'fetch') fetches.inc({ outcome: String(value as FetchOutcome) });
    else if (event === 'lease') lease.inc({ event: value as string });
    else if (event === 'followerRead') followerReads.inc({ result: value as string });
    else if (event === 'propagation') propagation.observe((value as number) / 1_000);
    else if (event === 'evaluation') {
      const evaluation = value as FlagsEventMap['evaluation'];
      evaluations.inc({
        flag: flagLabel(status, evaluation.flagKey),
        result: evaluationResult(evaluation),
      });
    }
  });
  return () => {
    unsubscribe();
    for (const name of names) registry.removeSingleMetric(name);
  };
}
