import { Logger } from '@nestjs/common';
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
import { IntervalScheduler } from '../interval-scheduler.js';
import { observeFetch, type FetchObserver, type PostHogFetch } from '../observed-fetch.js';
import { cacheKeys, type CacheKeys } from './cache-keys.js';
import { ChangeSubscription } from './change-subscription.js';
import { LeaseProtocol } from './lease-protocol.js';
import { QUOTA_NOTICE } from './notices.js';
import { RoleMachine } from './role-machine.js';
import type { RoleKind } from './role.js';
import { EMPTY_DEFINITIONS, SharedCopyReader } from './shared-copy-reader.js';

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
  /** Bound of each Redis call. Default 1 000. */
  commandTimeoutMs?: number;
  /** Failed polls after which the leader releases its lease. Default 3. */
  leaderMaxFailures?: number;
  /** How long a process that lost the lease on a cold cache waits for the leader's copy. Default 3 000. */
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
  logger?: Pick<Logger, 'log' | 'warn' | 'error'>;
}

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
  private readonly logger: Pick<Logger, 'log' | 'warn' | 'error'>;

  /** Set by `bindClient`: from then on the client loads only when the cache asks. */
  private scheduler?: IntervalScheduler;
  /** True once the client's first load is over: from then on it loads only when asked. */
  private owning = false;
  /** What the load the cache started is for (undefined: a load posthog-node started itself). */
  private intent?: 'fetch' | 'read';
  /** The cache's loads, one at a time. */
  private loading: Promise<void> = Promise.resolve();

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
    this.logger = options.logger ?? new Logger('PostHogFlags');
    if (options.subscriber !== false) {
      this.changes = new ChangeSubscription(redis, this.keys.changedChannel, this.logger);
    }
    const lease = new LeaseProtocol(
      redis,
      this.keys,
      this.instanceId,
      leaseTtlMs,
      this.commandTimeoutMs,
    );
    this.reader = new SharedCopyReader({
      lease,
      status: this.status,
      generation: this.generation,
      redactor,
      logger: this.logger,
      canFetch,
      coldStartWaitMs: options.coldStartWaitMs ?? 3_000,
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
    });
  }

  /**
   * Takes over the client's schedule (create it with `featureFlagsPollingInterval: null`): a load
   * each interval as the role asks, and at once on a change notice.
   */
  bindClient(client: DefinitionsClient): void {
    if (this.scheduler) return;
    this.scheduler = new IntervalScheduler(
      this.pollingIntervalMs,
      () => this.tick(client),
      (error) => this.logger.warn(`Definitions load failed: ${String(error)}`),
    );
    // The client's first load (begun in its constructor) decides as an unbound load would; the
    // schedule owns every load after it. (This reload joins that first load.)
    void client
      .reloadFeatureFlags()
      .catch(() => undefined)
      .finally(() => {
        this.owning = true;
        this.scheduler?.start();
      });
    this.changes?.start({
      onReleased: () => this.machine.noticeRelease(),
      onChange: (announced) => this.reloadFor(client, announced),
    });
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
    if (this.intent) return this.intent === 'fetch';
    // A load posthog-node started on its own (an evaluation before its first load): never a request.
    if (this.owning) return false;
    // Not bound (the client's first load, or a caller driving the provider itself): decide here.
    return (await this.machine.decide()) === 'fetch';
  }

  async getFlagDefinitions(): Promise<FlagDefinitionCacheData | undefined> {
    if (this.machine.kind === 'closed') return undefined;
    if (this.owning && !this.intent) return this.reader.current?.data ?? EMPTY_DEFINITIONS;
    const data = await this.reader.read();
    // Given nothing, posthog-node would fetch although told not to (it never loaded): placeholder.
    if (!data && this.owning && !this.status.loaded) return EMPTY_DEFINITIONS;
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
    this.scheduler?.stop();
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

  /** One interval: the leader fetches; the others read meta and load only what changed. */
  private async tick(client: DefinitionsClient): Promise<void> {
    const kind = this.machine.kind;
    if (kind === 'closed') return;
    if (kind === 'reader' || kind === 'leaving' || kind === 'follower' || kind === 'steppedDown') {
      const meta = await this.reader.peekMeta();
      if (kind === 'reader' && meta !== 'failed') this.machine.noteRedisReachable();
      if (kind === 'reader' || kind === 'leaving' || this.machine.mayRest(meta)) {
        if (meta === 'failed' || !meta) return;
        if (this.reader.differs(meta)) return this.load(client, 'read');
        this.reader.noteUnchanged(meta);
        return;
      }
    }
    const decision = await this.machine.decide();
    if (decision === 'fetch') {
      await this.load(client, 'fetch');
      this.machine.noteUnusableBody();
    } else if (decision === 'read') {
      const meta = await this.reader.peekMeta();
      if (meta !== 'failed' && meta && this.reader.differs(meta)) await this.load(client, 'read');
      else if (meta !== 'failed' && meta) this.reader.noteUnchanged(meta);
    }
  }

  /** Makes the client load, for `intent`; the cache's loads never overlap. */
  private load(client: DefinitionsClient, intent: 'fetch' | 'read'): Promise<void> {
    const run = async (): Promise<void> => {
      this.intent = intent;
      try {
        await client.reloadFeatureFlags();
      } finally {
        this.intent = undefined;
      }
    };
    this.loading = this.loading.then(run, run);
    return this.loading;
  }

  /**
   * Reloads after a change notice. A reload can join a load that read Redis just before the
   * change, so it repeats (a few times at most) until the announced content is in.
   */
  private async reloadFor(client: DefinitionsClient, announced: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const kind = this.machine.kind;
      if (kind === 'leader' || kind === 'closed' || announced === this.currentHash) return;
      await this.load(client, 'read');
      if (announced === QUOTA_NOTICE) return;
    }
  }
}

function isFlagsRedis(value: object): value is FlagsRedis {
  return typeof (value as FlagsRedis).runScript === 'function';
}
