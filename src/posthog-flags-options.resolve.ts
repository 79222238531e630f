import { readFileSync } from 'node:fs';
import type {
  FlagDefinitions,
  PostHogFlagsModuleOptions,
  RedisConnection,
} from './posthog-flags-options.interface.js';
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
import { definitionsFromFlagMap, flagMapProblem, type TestFlagMap } from './testing/flag-map.js';

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

function resolveOfflineDefinitions(
  raw: PostHogFlagsModuleOptions,
  problems: string[],
): FlagDefinitions | undefined {
  if (raw.definitions !== undefined && raw.definitionsFile !== undefined) {
    problems.push('definitions and definitionsFile: set only one of them');
    return undefined;
  }
  if (raw.definitions !== undefined)
    return offlineDefinitions(raw.definitions, 'definitions', problems);
  if (raw.definitionsFile === undefined) return undefined;
  if (typeof raw.definitionsFile !== 'string' || raw.definitionsFile === '') {
    problems.push(`definitionsFile must be a file path (got ${describe(raw.definitionsFile)})`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(raw.definitionsFile, 'utf8'));
  } catch (error) {
    problems.push(`definitionsFile ${raw.definitionsFile}: ${(error as Error).message}`);
    return undefined;
  }
  return offlineDefinitions(parsed, `definitionsFile ${raw.definitionsFile}`, problems);
}

/**
 * Full PostHog definitions (`{ flags: [...] }`) as they are, or the testing module's shorthand
 * (`{ 'new-checkout': true, pricing: 'test-b' }`) turned into definitions by the same conversion.
 */
function offlineDefinitions(
  value: unknown,
  label: string,
  problems: string[],
): FlagDefinitions | undefined {
  const isShorthand =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !Array.isArray((value as { flags?: unknown }).flags);
  const problem = isShorthand
    ? flagMapProblem(value as Record<string, unknown>)
    : definitionsShapeProblem(value);
  if (problem) {
    problems.push(`${label}: ${problem}`);
    return undefined;
  }
  return isShorthand ? definitionsFromFlagMap(value as TestFlagMap) : (value as FlagDefinitions);
}

/** Why a value is not a definitions payload, or undefined when it is one. */
export function definitionsShapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'must be an object like { flags: [...] }';
  }
  const { flags, cohorts, group_type_mapping } = value as Record<string, unknown>;
  if (!Array.isArray(flags)) return '`flags` must be an array';
  const badIndex = flags.findIndex(
    (flag) => flag === null || typeof flag !== 'object' || typeof flag.key !== 'string',
  );
  if (badIndex >= 0) return `flags[${badIndex}] must be an object with a string \`key\``;
  if (cohorts !== undefined && !isPlainObject(cohorts)) return '`cohorts` must be an object';
  if (group_type_mapping !== undefined && !isPlainObject(group_type_mapping)) {
    return '`group_type_mapping` must be an object';
  }
  return undefined;
}

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A short, secret-free description of a bad value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

class OptionChecker {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly problems: string[],
  ) {}

  nonEmptyString(
    name: string,
    { required, secret }: { required: boolean; secret: boolean },
  ): string | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) {
      if (required) this.problems.push(`${name} is required (a non-empty string)`);
      return undefined;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      const got = secret ? '' : ` (got ${describe(value)})`;
      this.problems.push(`${name} must be a non-empty string${got}`);
      return undefined;
    }
    return value.trim();
  }

  integer(name: string, min: number): number | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.problems.push(`${name} must be an integer ≥ ${min} (got ${describe(value)})`);
      return undefined;
    }
    return value;
  }

  httpUrl(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && URL.canParse(value)) {
      const url = new URL(value);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return value;
    }
    this.problems.push(`${name} must be an http(s) URL (got ${describe(value)})`);
    return undefined;
  }

  keyPrefix(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '' || /[{}\s]/.test(value)) {
      this.problems.push(
        `${name} must be a non-empty string without braces or spaces (braces would break the key's hash tag; got ${describe(value)})`,
      );
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.raw[name];
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      this.problems.push(
        `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${describe(value)})`,
      );
      return undefined;
    }
    return value as T;
  }

  optionalFunction(name: string): void {
    const value = this.raw[name];
    if (value !== undefined && typeof value !== 'function') {
      this.problems.push(`${name} must be a function of the request (got ${describe(value)})`);
    }
  }

  optionalBoolean(name: string): void {
    const value = this.raw[name];
    if (value !== undefined && typeof value !== 'boolean') {
      this.problems.push(`${name} must be a boolean (got ${describe(value)})`);
    }
  }
}
