import type {
  FlagDefinitions,
  PostHogFlagsModuleOptions,
  RedisConnection,
} from './posthog-flags-options.interface.js';
import { OptionChecker, describe } from './posthog-flags-options.checker.js';
import { resolveOfflineDefinitions } from './posthog-flags-options.definitions.js';
import {
  DEFAULT_HOST,
  DEFAULT_KEY_PREFIX,
  DEFAULT_POLLING_INTERVAL_MS,
  POSTHOG_MIN_POLLING_INTERVAL_MS,
} from './posthog-flags.internal-constants.js';
import type { PostHogFlagsMetricsOptions } from './metrics/posthog-flags.metrics.js';
import {
  isOpenTelemetryOption,
  type PostHogFlagsOpenTelemetryOptions,
} from './metrics/posthog-flags.otel-metrics.js';
import { validateRedisConnection } from './redis/redis-connection-options.js';

/**
 * How this process gets definitions:
 * - `shared`: secret + Redis — leader or follower through the lease;
 * - `reader`: Redis, no secret — reads what another deployment's leader writes;
 * - `standalone`: secret, no Redis — polls PostHog alone;
 * - `remote`: neither — every evaluation is a `/flags` call;
 * - `offline`: `definitions` / `definitionsFile` — no PostHog, no Redis.
 */
export type FlagsMode = 'shared' | 'reader' | 'standalone' | 'remote' | 'offline';

/** Options after validation, with every default applied. */
export interface ResolvedPostHogFlagsOptions extends Required<
  Pick<
    PostHogFlagsModuleOptions,
    | 'projectApiKey'
    | 'host'
    | 'keyPrefix'
    | 'pollingIntervalMs'
    | 'leaseTtlMs'
    | 'maxAgeMs'
    | 'redisCommandTimeoutMs'
    | 'startupTimeoutMs'
    | 'leaderMaxFailures'
    | 'distinctId'
    | 'onMissingDistinctId'
    | 'anonymousDistinctId'
    | 'deniedStatus'
    | 'onlyEvaluateLocally'
    | 'sendFeatureFlagEvents'
    | 'evaluationCacheSize'
    | 'evaluationCacheMaxBytes'
    | 'maxPropertyLength'
    | 'maxDistinctIdLength'
    | 'posthog'
  >
> {
  guard?: PostHogFlagsModuleOptions['guard'];
  mode: FlagsMode;
  metrics?: PostHogFlagsMetricsOptions;
  openTelemetry?: PostHogFlagsOpenTelemetryOptions;
  secretKey?: string;
  redis?: RedisConnection;
  personProperties?: PostHogFlagsModuleOptions['personProperties'];
  groups?: PostHogFlagsModuleOptions['groups'];
  groupProperties?: PostHogFlagsModuleOptions['groupProperties'];
  offlineDefinitions?: FlagDefinitions;
}

/** Thrown at startup for bad options; the message names every bad option and never a secret. */
export class PostHogFlagsOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid PostHogFlagsModule options:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PostHogFlagsOptionsError';
  }
}

const defaultDistinctId = (request: any): string | undefined => {
  const user = request?.user;
  const id = user?.id ?? user?.sub;
  return id === undefined || id === null ? undefined : String(id);
};

/** Validates options and applies defaults. Throws one `PostHogFlagsOptionsError` listing every problem. */
export function resolveOptions(raw: PostHogFlagsModuleOptions): ResolvedPostHogFlagsOptions {
  if (raw === null || typeof raw !== 'object') {
    throw new PostHogFlagsOptionsError([`options must be an object (got ${describe(raw)})`]);
  }
  const problems: string[] = [];
  const check = new OptionChecker(raw as unknown as Record<string, unknown>, problems);

  const projectApiKey = check.nonEmptyString('projectApiKey', { required: true, secret: false });
  const secretKey = resolveSecretKey(raw, check, problems);
  const host = check.httpUrl('host') ?? DEFAULT_HOST;
  const keyPrefix = check.keyPrefix('keyPrefix') ?? DEFAULT_KEY_PREFIX;

  const pollingIntervalMs =
    check.integer('pollingIntervalMs', POSTHOG_MIN_POLLING_INTERVAL_MS) ??
    DEFAULT_POLLING_INTERVAL_MS;
  const leaseTtlMs = check.integer('leaseTtlMs', 1) ?? 3 * pollingIntervalMs;
  if (raw.leaseTtlMs !== undefined && leaseTtlMs <= pollingIntervalMs) {
    problems.push(
      `leaseTtlMs must be longer than pollingIntervalMs (${pollingIntervalMs}), else the lease lapses between polls (got ${leaseTtlMs})`,
    );
  }
  const maxAgeMs = check.integer('maxAgeMs', 1) ?? 5 * pollingIntervalMs;
  if (raw.maxAgeMs !== undefined && maxAgeMs <= pollingIntervalMs) {
    problems.push(
      `maxAgeMs must be longer than pollingIntervalMs (${pollingIntervalMs}), else health flaps between polls (got ${maxAgeMs})`,
    );
  }
  const redisCommandTimeoutMs = check.integer('redisCommandTimeoutMs', 1) ?? 1_000;
  const startupTimeoutMs = check.integer('startupTimeoutMs', 0) ?? 5_000;
  const leaderMaxFailures = check.integer('leaderMaxFailures', 1) ?? 3;
  const evaluationCacheSize = check.integer('evaluationCacheSize', 0) ?? 10_000;
  const evaluationCacheMaxBytes = check.integer('evaluationCacheMaxBytes', 0) ?? 16 * 1024 * 1024;
  const maxPropertyLength = check.integer('maxPropertyLength', 1) ?? 1_000;
  const maxDistinctIdLength = check.integer('maxDistinctIdLength', 1) ?? 200;

  for (const name of ['distinctId', 'personProperties', 'groups', 'groupProperties'] as const) {
    check.optionalFunction(name);
  }
  const onMissingDistinctId = check.oneOf('onMissingDistinctId', ['deny', 'anonymous']) ?? 'deny';
  const anonymousDistinctId =
    check.nonEmptyString('anonymousDistinctId', { required: false, secret: false }) ?? 'anonymous';
  if (
    raw.deniedStatus !== undefined &&
    raw.deniedStatus !== 403 &&
    raw.deniedStatus !== 404 &&
    typeof raw.deniedStatus !== 'function'
  ) {
    problems.push(
      `deniedStatus must be 404, 403 or a function returning an exception (got ${describe(raw.deniedStatus)})`,
    );
  }
  if (raw.guard !== undefined && typeof raw.guard?.prototype?.canActivate !== 'function') {
    problems.push(`guard must be a class extending FeatureFlagGuard (got ${describe(raw.guard)})`);
  }
  check.optionalBoolean('onlyEvaluateLocally');
  check.optionalBoolean('sendFeatureFlagEvents');
  if (
    raw.metrics !== undefined &&
    typeof raw.metrics !== 'boolean' &&
    (raw.metrics === null || typeof raw.metrics !== 'object')
  ) {
    problems.push(
      `metrics must be true, false or { registry, prefix } (got ${describe(raw.metrics)})`,
    );
  }
  if (!isOpenTelemetryOption(raw.openTelemetry)) {
    problems.push(
      `openTelemetry must be true, false or { meter } with an OpenTelemetry Meter (got ${describe(raw.openTelemetry)})`,
    );
  }
  if (raw.posthog !== undefined && (raw.posthog === null || typeof raw.posthog !== 'object')) {
    problems.push(
      `posthog must be an object of posthog-node options (got ${describe(raw.posthog)})`,
    );
  }
  if (raw.redis !== undefined) {
    const redisProblem = validateRedisConnection(raw.redis);
    if (redisProblem) problems.push(`redis: ${redisProblem}`);
  }
  const offlineDefinitions = resolveOfflineDefinitions(raw, problems);
  if (offlineDefinitions && (raw.redis !== undefined || secretKey !== undefined)) {
    problems.push(
      'definitions/definitionsFile is an offline source and cannot be combined with redis or secretKey: pass one or the other',
    );
  }

  if (problems.length > 0) throw new PostHogFlagsOptionsError(problems);

  const mode: FlagsMode = offlineDefinitions
    ? 'offline'
    : raw.redis !== undefined
      ? secretKey
        ? 'shared'
        : 'reader'
      : secretKey
        ? 'standalone'
        : 'remote';
  return {
    mode,
    projectApiKey: projectApiKey!,
    secretKey,
    host: host.replace(/\/+$/, ''),
    redis: raw.redis,
    keyPrefix,
    pollingIntervalMs,
    leaseTtlMs,
    maxAgeMs,
    redisCommandTimeoutMs,
    startupTimeoutMs,
    leaderMaxFailures,
    distinctId: raw.distinctId ?? defaultDistinctId,
    personProperties: raw.personProperties,
    groups: raw.groups,
    groupProperties: raw.groupProperties,
    onMissingDistinctId,
    anonymousDistinctId,
    deniedStatus: raw.deniedStatus ?? 404,
    onlyEvaluateLocally: raw.onlyEvaluateLocally ?? mode !== 'remote',
    sendFeatureFlagEvents: raw.sendFeatureFlagEvents ?? true,
    evaluationCacheSize,
    evaluationCacheMaxBytes,
    maxPropertyLength,
    maxDistinctIdLength,
    offlineDefinitions,
    metrics: raw.metrics === true ? {} : raw.metrics || undefined,
    openTelemetry: raw.openTelemetry === true ? {} : raw.openTelemetry || undefined,
    posthog: raw.posthog ?? {},
    guard: raw.guard,
  };
}

function resolveSecretKey(
  raw: PostHogFlagsModuleOptions,
  check: OptionChecker,
  problems: string[],
): string | undefined {
  const secretKey = check.nonEmptyString('secretKey', { required: false, secret: true });
  const personalApiKey = check.nonEmptyString('personalApiKey', { required: false, secret: true });
  if (secretKey && personalApiKey && secretKey !== personalApiKey) {
    problems.push('secretKey and personalApiKey are aliases: set only one of them');
  }
  const key = secretKey ?? personalApiKey;
  if (key?.startsWith('phc_')) {
    problems.push(
      'secretKey looks like a project API key (phc_…): pass a project secret key (phs_…) or a personal API key (phx_…)',
    );
  }
  return key;
}
