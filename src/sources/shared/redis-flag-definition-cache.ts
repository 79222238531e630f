import { consoleCacheLogger, type CacheLogger } from './console-logger.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FlagDefinitionCacheData, FlagDefinitionCacheProvider, PostHog } from 'posthog-node';
import { DefinitionsGeneration } from '../../definitions-generation.js';
import { FlagsStatusTracker, type FetchOutcome } from '../../flags-status.js';
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_POLLING_INTERVAL_MS,
} from '../../posthog-flags.internal-constants.js';
import { Redactor } from '../../redact.js';
import type { FlagsRedis } from '../../redis/flags-redis.js';
import { adaptRedisClient } from '../../redis/redis-client.factory.js';
import { backoffPolicy } from '../fetch-backoff.js';
import { observeFetch, type FetchObserver, type PostHogFetch } from '../observed-fetch.js';
import { cacheKeys, type CacheKeys } from './cache-keys.js';
import { ChangeSubscription } from './change-subscription.js';
import { LeaseProtocol } from './lease-protocol.js';
import { RoleMachine } from './role-machine.js';
import type { RoleKind } from './role.js';
import { EMPTY_DEFINITIONS, SharedCopyReader } from './shared-copy-reader.js';
import { SharedSchedule } from './shared-schedule.js';
import { RedisContentWarnings } from './redis-content-warnings.js';

export interface RedisFlagDefinitionCacheOptions {
  /** The client for commands: an ioredis client, or the module's `FlagsRedis` view of one. Not closed by the cache. */
  redis: FlagsRedis | object;
  /** Selects the project's keys (through a fingerprint; the key itself is never stored). */
  projectApiKey: string;
  keyPrefix?: string;
  /** How often definitions are loaded (the leader polls PostHog, the others read meta). Default 30 000. */
  pollingIntervalMs?: number;
  /** Default 3 × `pollingIntervalMs`. */
  leaseTtlMs?: number;
  /**
   * How long a lease taken while Redis holds no definitions runs until the leader's first write,
   * whatever the lease TTL: how long followers wait for a first leader that died mid-fetch, and
   * how long a live one's first fetch may take before others fetch too. Keep it above
   * posthog-node's request timeout. Default 15 000.
   */
  coldLeaseTtlMs?: number;
  /** Bound of each Redis call. Default 1 000. */
  commandTimeoutMs?: number;
  /** Failed polls after which the leader releases its lease. Default 3. */
  leaderMaxFailures?: number;
  /**
   * The longest a process that lost the lease on a cold cache waits for the leader's first copy
   * (it stops waiting sooner if that leader's short cold lease runs out). Default: the lease TTL.
   */
  coldStartWaitMs?: number;
  /** `false` to poll only. Default: change notices on a connection of the cache's own. */
  subscriber?: false;
  /** Whether this process holds a secret key. Without one it is a reader. Default true. */
  canFetch?: boolean;
  instanceId?: string;
  status?: FlagsStatusTracker;
  generation?: DefinitionsGeneration;
  /** Strings never to log (the secret key). */
  secrets?: string[];
  /** Default: console lines prefixed `[PostHogFlags]` (the module passes Nest's `Logger`). */
  logger?: CacheLogger;
}

/** posthog-node's default 10 s request timeout, and some. */
const DEFAULT_COLD_LEASE_TTL_MS = 15_000;

/** Lease TTLs without a verification after which a follower reports its lease holder stalled. */
const STALLED_LEADER_LEASE_TTLS = 3;

/** The client calls the cache makes: public posthog-node API only. */
export type DefinitionsClient = Pick<PostHog, 'reloadFeatureFlags'>;

/**
 * posthog-node's `FlagDefinitionCacheProvider` backed by Redis, with a sticky leader lease: one
 * process polls PostHog and publishes the definitions; the others read them from Redis. Once bound
 * to its client, the cache owns the schedule: the SDK's poller stays off and the client loads only
 * when the cache asks (the leader each interval, the others when the shared copy changed).
 *
 * @example
 * const cache = new RedisFlagDefinitionCache({ redis, projectApiKey });
 * const posthog = new PostHog(projectApiKey, {
 *   secretKey, flagDefinitionCacheProvider: cache, fetch: cache.wrapFetch(),
 *   featureFlagsPollingInterval: null,
 * });
 * cache.bindClient(posthog);
 */
export class RedisFlagDefinitionCache implements FlagDefinitionCacheProvider, FetchObserver {
  readonly instanceId: string;
  readonly keys: CacheKeys;
  readonly status: FlagsStatusTracker;
  readonly generation: DefinitionsGeneration;

  private readonly machine: RoleMachine;
  private readonly reader: SharedCopyReader;
  private readonly changes?: ChangeSubscription;
  private readonly pollingIntervalMs: number;
  private readonly commandTimeoutMs: number;
  private readonly logger: CacheLogger;

  private readonly schedule: SharedSchedule;

  constructor(options: RedisFlagDefinitionCacheOptions) {
    this.pollingIntervalMs = options.pollingIntervalMs ?? DEFAULT_POLLING_INTERVAL_MS;
    const redis = isFlagsRedis(options.redis) ? options.redis : adaptRedisClient(options.redis);
    const canFetch = options.canFetch ?? true;
    const leaseTtlMs = options.leaseTtlMs ?? 3 * this.pollingIntervalMs;
    const redactor = new Redactor(options.secrets ?? []);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
    this.keys = cacheKeys(options.keyPrefix ?? DEFAULT_KEY_PREFIX, options.projectApiKey);
    this.instanceId =
      options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.status =
      options.status ?? new FlagsStatusTracker(canFetch ? 'follower' : 'reader', 'ready');
    this.generation = options.generation ?? new DefinitionsGeneration();
    this.logger = options.logger ?? consoleCacheLogger;
    // A follower reports its lease holder stalled after this long without a verification.
    this.status.leaderStalledAfterMs = STALLED_LEADER_LEASE_TTLS * leaseTtlMs;
    const warnings = new RedisContentWarnings(this.logger);
    if (options.subscriber !== false) {
      this.changes = new ChangeSubscription(redis, this.keys.changedChannel, this.logger, warnings);
    }
    const lease = new LeaseProtocol(
      redis,
      this.keys,
      this.instanceId,
      leaseTtlMs,
      this.commandTimeoutMs,
      // Not capped at the lease TTL: a short lease lapsed while a cold fleet booted on busy cores
      // (a first fetch slower than 3 intervals) and others fetched too, 6 fetches for 16 processes.
      options.coldLeaseTtlMs ?? DEFAULT_COLD_LEASE_TTL_MS,
    );
    this.reader = new SharedCopyReader({
      lease,
      status: this.status,
      generation: this.generation,
      redactor,
      logger: this.logger,
      warnings,
      pollingIntervalMs: this.pollingIntervalMs,
      canFetch,
      coldStartWaitMs: options.coldStartWaitMs ?? leaseTtlMs,
      changes: this.changes,
    });
    this.machine = new RoleMachine({
      lease,
      reader: this.reader,
      status: this.status,
      instanceId: this.instanceId,
      canFetch,
      leaseTtlMs,
      leaderMaxFailures: options.leaderMaxFailures ?? 3,
      backoff: backoffPolicy(this.pollingIntervalMs),
      redactor,
      logger: this.logger,
      warnings,
    });
    this.schedule = new SharedSchedule(
      this.machine,
      this.reader,
      this.pollingIntervalMs,
      this.logger,
      this.changes,
    );
  }

  /**
   * Takes over the client's schedule (create it with `featureFlagsPollingInterval: null`): a load
   * each interval as the role asks, and at once on a change notice.
   */
  bindClient(client: DefinitionsClient): void {
    this.schedule.bind(client);
  }

  /** The `fetch` to hand posthog-node: it reports 304s and failures to this cache. */
  wrapFetch(inner: PostHogFetch = globalThis.fetch as unknown as PostHogFetch): PostHogFetch {
    return observeFetch(inner, [this]);
  }

  /** The content hash of the definitions this process holds, if any. */
  get currentHash(): string | undefined {
    return this.reader.current?.hash;
  }

  /** The lease protocol state this process is in. */
  get role(): RoleKind {
    return this.machine.kind;
  }

  async shouldFetchFlagDefinitions(): Promise<boolean> {
    const { intent, owning } = this.schedule;
    if (intent) return intent === 'fetch';
    // A load posthog-node started on its own (an evaluation before its first load): never a request.
    if (owning) return false;
    // Not bound (the client's first load, or a caller driving the provider itself): decide here.
    return (await this.machine.decide()) === 'fetch';
  }

  async getFlagDefinitions(): Promise<FlagDefinitionCacheData | undefined> {
    if (this.machine.kind === 'closed') return undefined;
    const { intent, owning } = this.schedule;
    if (owning && !intent) return this.reader.current?.data ?? EMPTY_DEFINITIONS;
    const data = await this.reader.read();
    // A bound client asks only after it was told not to fetch; given nothing before its first load
    // it would fetch anyway (a cold follower's first load that gave up waiting did): a placeholder.
    // A caller driving the provider itself is told the truth (nothing).
    if (!data && this.schedule.bound && !this.status.loaded) return EMPTY_DEFINITIONS;
    return data;
  }

  async onFlagDefinitionsReceived(data: FlagDefinitionCacheData): Promise<void> {
    await this.machine.onReceived(data);
  }

  beforeDefinitionsRequest(headers: Record<string, string>): void {
    if (this.machine.wantsFullBody()) delete headers['If-None-Match'];
  }

  async onDefinitionsResponse(outcome: FetchOutcome): Promise<void> {
    await this.machine.onOutcome(outcome);
  }

  async shutdown(): Promise<void> {
    if (this.machine.kind === 'closed') return;
    const wasLeader = this.machine.close();
    this.schedule.stop();
    await Promise.all([
      this.changes?.stop(this.commandTimeoutMs),
      wasLeader ? this.machine.release() : undefined,
    ]);
  }

  /**
   * Leaves the lease protocol (the app is shutting down): releases the lease if held, never leads
   * or writes again, but keeps reading the shared copy while the app drains. Never throws.
   */
  async stepAside(): Promise<void> {
    if (this.machine.leave()) await this.machine.release();
  }

  /** Gives up the lease if this process holds it (compare-and-delete). Never throws. */
  releaseLease(): Promise<boolean> {
    return this.machine.release();
  }
}

function isFlagsRedis(value: object): value is FlagsRedis {
  return typeof (value as FlagsRedis).runScript === 'function';
}
