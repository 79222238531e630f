import type { HttpException, Type } from '@nestjs/common';
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';
import type { PostHogOptions } from 'posthog-node';
import type { FeatureFlagGuard } from './feature-flag.guard.js';
import type { PostHogFlagsMetricsOptions } from './metrics/posthog-flags.metrics.js';
import type { PostHogFlagsOpenTelemetryOptions } from './metrics/posthog-flags.otel-metrics.js';
import type { SupportedRedisClient } from './redis/redis-client-like.js';
import type { TestFlagMap } from './testing/flag-map.js';

/** Flag definitions as PostHog's `/flags/definitions` returns them. */
export interface FlagDefinitions {
  flags: Array<Record<string, unknown>>;
  group_type_mapping?: Record<string, string>;
  cohorts?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * A client the app created: an ioredis `Redis` / `Cluster` (5 or 6) or a node-redis client /
 * cluster (`createClient()` / `createCluster()`, 5 or 6), RESP2 or RESP3. The module uses it as it
 * is (no option changed, no SELECT, no CLIENT SETNAME) and never closes it.
 */
export interface ExistingRedisClient {
  client: SupportedRedisClient;
}

/** A Redis Cluster: its seed nodes and ioredis `ClusterOptions`. */
export interface RedisClusterConnection {
  cluster: ClusterNode[];
  options?: ClusterOptions;
}

/**
 * How to reach Redis: a `redis://` / `rediss://` URL, ioredis options (including `sentinels` + `name`),
 * a Cluster, or an existing client.
 */
export type RedisConnection = string | RedisOptions | RedisClusterConnection | ExistingRedisClient;

export type PersonProperties = Record<string, unknown>;
export type Groups = Record<string, string>;
export type GroupProperties = Record<string, Record<string, unknown>>;

/** What the guard tells a denial factory. */
export interface FeatureFlagDenial {
  flagKey: string;
  distinctId: string | undefined;
  request: unknown;
  /** The context type: `http`, `graphql`, `ws`, `rpc`. */
  transport?: string;
}

/** Options of `PostHogFlagsModule.forRoot()` / `forRootAsync()`. */
export interface PostHogFlagsModuleOptions {
  /** The project API key (`phc_…`). Required. */
  projectApiKey: string;
  /** A project secret key (`phs_…`) or personal API key: lets this process fetch definitions. */
  secretKey?: string;
  /** Alias of `secretKey`. */
  personalApiKey?: string;
  /** PostHog host. Default `https://us.i.posthog.com`. */
  host?: string;
  /** Shares definitions between processes. Without it, this process polls alone. */
  redis?: RedisConnection;
  /** Prefix of every Redis key. Default `posthog:flags`. */
  keyPrefix?: string;
  /** How often definitions are polled (leader) or read from Redis (followers). Default 30 000. */
  pollingIntervalMs?: number;
  /** The leader lease: how long a dead leader blocks failover. Default 3 × `pollingIntervalMs`. */
  leaseTtlMs?: number;
  /** Health turns `down` when definitions were last verified longer ago than this. Default 5 × `pollingIntervalMs`. */
  maxAgeMs?: number;
  /** Bound of every Redis call the module makes. Default 1 000 ms. */
  redisCommandTimeoutMs?: number;
  /** How long boot may wait for Redis and the first definitions. Default 5 000 ms. */
  startupTimeoutMs?: number;
  /** Failed polls after which a leader gives up its lease so another process can try. Default 3. */
  leaderMaxFailures?: number;
  /** The request's distinct id. Default `req.user?.id ?? req.user?.sub`. No client header is trusted by default. */
  distinctId?: (request: any) => string | number | undefined | null;
  /** Person properties for the guard's evaluation. */
  personProperties?: (request: any) => PersonProperties | undefined;
  /** Groups (`{ company: 'acme' }`) for the guard's evaluation. */
  groups?: (request: any) => Groups | undefined;
  /** Group properties for the guard's evaluation. */
  groupProperties?: (request: any) => GroupProperties | undefined;
  /** What the guard does without a distinct id: deny (default) or evaluate as `anonymousDistinctId`. */
  onMissingDistinctId?: 'deny' | 'anonymous';
  /** The distinct id used for `onMissingDistinctId: 'anonymous'`. Default `anonymous`. */
  anonymousDistinctId?: string;
  /** Status of a denied request (404 default, 403), or a factory of the exception to throw. */
  deniedStatus?: 404 | 403 | ((denial: FeatureFlagDenial) => HttpException | Error);
  /**
   * The app's `FeatureFlagGuard` subclass: every `@FeatureFlag()` runs it, and `@FlagValue()` /
   * `@Flags()` find the caller through its hooks. Created like a `@UseGuards()` guard in each module
   * using it (its dependencies resolve there), or taken from the providers if registered as one.
   */
  guard?: Type<FeatureFlagGuard>;
  /** The guard and the service never call PostHog per request. Default true when local evaluation is on. */
  onlyEvaluateLocally?: boolean;
  /** Send `$feature_flag_called` exposure events (first read per user and value). Default true. */
  sendFeatureFlagEvents?: boolean;
  /** Memoized evaluations kept per process. Default 10 000. */
  evaluationCacheSize?: number;
  /** Memory the memoized evaluations may use, in bytes (estimated). Default 16 MiB. */
  evaluationCacheMaxBytes?: number;
  /** Longest property string passed to evaluation; longer ones count as unset. Default 1 000. */
  maxPropertyLength?: number;
  /** Longest distinct id accepted; longer ones count as missing (PostHog drops them too). Default 200. */
  maxDistinctIdLength?: number;
  /**
   * Offline definitions, evaluated locally with no PostHog and no Redis: full PostHog definitions
   * (`{ flags: [...] }`) or the testing module's shorthand (`{ 'new-checkout': true, pricing: 'test-b' }`).
   */
  definitions?: FlagDefinitions | TestFlagMap;
  /** Offline definitions from a JSON file, in either form of `definitions`. */
  definitionsFile?: string;
  /** Prometheus metrics through prom-client (an optional peer): `true`, or `{ registry, prefix }`. Default off. */
  metrics?: boolean | PostHogFlagsMetricsOptions;
  /** OpenTelemetry metrics through `@opentelemetry/api` (an optional peer): `true`, or `{ meter }`. Default off. */
  openTelemetry?: boolean | PostHogFlagsOpenTelemetryOptions;
  /** Pass-through `posthog-node` options. */
  posthog?: Partial<PostHogOptions>;
}

/** For `forRootAsync({ useClass })` / `useExisting`: a provider that builds the options. */
export interface PostHogFlagsOptionsFactory {
  createPostHogFlagsOptions(): PostHogFlagsModuleOptions | Promise<PostHogFlagsModuleOptions>;
}
