import type { Meter, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import type { FetchOutcome, FlagsRole, FlagsStatusTracker } from '../flags-status.js';
import {
  PROPAGATION_BUCKETS_SECONDS,
  evaluationResult,
  flagLabel,
} from './shared-metric-shapes.js';

/**
 * What the module needs of an OpenTelemetry `Meter`. Structural on purpose: `@opentelemetry/api`
 * is an optional peer, so the emitted .d.ts must not import it.
 */
export interface OpenTelemetryMeter {
  createCounter(name: string, options?: object): unknown;
  createObservableGauge(name: string, options?: object): unknown;
  createHistogram(name: string, options?: object): unknown;
}

/** `openTelemetry` option: `true` for the global meter provider's meter, or a meter of yours. */
export interface PostHogFlagsOpenTelemetryOptions {
  /** Default: `metrics.getMeter('nestjs-posthog-flags')` of `@opentelemetry/api`. */
  meter?: OpenTelemetryMeter;
}

/** Whether a value is a valid `openTelemetry` option (absent, a boolean, or `{ meter? }`). */
export function isOpenTelemetryOption(value: unknown): boolean {
  if (value === undefined || typeof value === 'boolean') return true;
  if (value === null || typeof value !== 'object') return false;
  const meter = (value as { meter?: Partial<OpenTelemetryMeter> | null }).meter;
  return (
    meter === undefined ||
    (typeof meter?.createCounter === 'function' &&
      typeof meter.createObservableGauge === 'function' &&
      typeof meter.createHistogram === 'function')
  );
}

/** The provider name OpenTelemetry's feature-flag conventions put in `feature_flag.provider.name`. */
const PROVIDER = 'posthog';
const ROLES: readonly FlagsRole[] = [
  'leader',
  'follower',
  'reader',
  'standalone',
  'remote',
  'offline',
];

/**
 * Publishes the tracker's events as OpenTelemetry instruments, the same figures as the prom-client
 * metrics. OpenTelemetry's semantic conventions define feature-flag attributes (`feature_flag.key`,
 * `feature_flag.provider.name`) but no feature-flag metrics, so the instruments take a
 * `posthog.flags.` namespace and carry those attributes. Returns a function that stops them.
 */
export async function registerOpenTelemetryMetrics(
  status: FlagsStatusTracker,
  options: PostHogFlagsOpenTelemetryOptions,
): Promise<() => void> {
  let meter = options.meter as Meter | undefined;
  if (!meter) {
    let api: typeof import('@opentelemetry/api');
    try {
      api = await import('@opentelemetry/api');
    } catch {
      throw new Error(
        'openTelemetry: the @opentelemetry/api package is not installed (npm install @opentelemetry/api)',
      );
    }
    meter = api.metrics.getMeter('nestjs-posthog-flags');
  }
  const fetches = meter.createCounter('posthog.flags.definitions.requests', {
    description:
      'Flag definition requests to PostHog by outcome (200, 304, 401, 402, 403, 429, 5xx, error)',
    unit: '{request}',
  });
  const lease = meter.createCounter('posthog.flags.lease.events', {
    description: 'Leader lease acquisitions, losses and releases by this process',
    unit: '{event}',
  });
  const followerReads = meter.createCounter('posthog.flags.follower.reads', {
    description: 'Follower reads of the shared definitions: unchanged (meta only), full, invalid',
    unit: '{read}',
  });
  const evaluations = meter.createCounter('posthog.flags.evaluations', {
    description: 'Flag checks by the guard and the service, by flag and result',
    unit: '{evaluation}',
  });
  const propagation = meter.createHistogram('posthog.flags.change.propagation', {
    description:
      "Followers and readers: from the leader's fetch of new definitions to holding them here",
    unit: 's',
    advice: { explicitBucketBoundaries: PROPAGATION_BUCKETS_SECONDS },
  });
  const gauges: Array<[ObservableGauge, (result: ObservableResult) => void]> = [
    [
      meter.createObservableGauge('posthog.flags.definitions.age', {
        description:
          'Time since PostHog last confirmed the definitions (200 or 304 seen by any leader)',
        unit: 's',
      }),
      (result) => {
        const ageMs = status.snapshot().ageMs;
        if (ageMs !== null) result.observe(ageMs / 1_000);
      },
    ],
    [
      meter.createObservableGauge('posthog.flags.role', {
        description: "1 for this process's current role, 0 for the others",
        unit: '1',
      }),
      (result) => {
        for (const role of ROLES) result.observe(status.role === role ? 1 : 0, { role });
      },
    ],
    [
      meter.createObservableGauge('posthog.flags.redis.up', {
        description: '1 while Redis answers, 0 while this process polls PostHog alone',
        unit: '1',
      }),
      (result) => {
        if (status.redis !== 'none') result.observe(status.redis === 'ready' ? 1 : 0);
      },
    ],
    [
      meter.createObservableGauge('posthog.flags.quota.limited', {
        description: '1 while PostHog reports the project over its feature flag quota (402)',
        unit: '1',
      }),
      (result) => result.observe(status.quotaLimited ? 1 : 0),
    ],
    [
      meter.createObservableGauge('posthog.flags.leader.stalled', {
        description:
          '1 on a follower whose lease holder renews the lease but has not verified definitions for 3 lease TTLs',
        unit: '1',
      }),
      (result) => result.observe(status.leaderStalled() ? 1 : 0),
    ],
  ];
  for (const [gauge, callback] of gauges) gauge.addCallback(callback);

  const unsubscribe = status.onEvent((event, value) => {
    if (event === 'fetch') fetches.add(1, { outcome: String(value as FetchOutcome) });
    else if (event === 'lease') lease.add(1, { event: value as string });
    else if (event === 'followerRead') followerReads.add(1, { result: value as string });
    else if (event === 'propagation') propagation.record((value as number) / 1_000);
    else if (event === 'evaluation') {
      const evaluation = value as Parameters<typeof evaluationResult>[0];
      evaluations.add(1, {
        'feature_flag.key': flagLabel(status, evaluation.flagKey),
        'feature_flag.provider.name': PROVIDER,
        result: evaluationResult(evaluation),
      });
    }
  });
  return () => {
    unsubscribe();
    for (const [gauge, callback] of gauges) gauge.removeCallback(callback);
  };
}
