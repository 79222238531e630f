import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FlagDefinitionCacheData, FlagDefinitionCacheProvider, PostHog } from 'posthog-node';
import { bounded, sleep } from '../bounded.js';
import { DefinitionsGeneration } from '../definitions-generation.js';
import { describeFetchFailure, FlagsStatusTracker, type FetchOutcome } from '../flags-status.js';
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_POLLING_INTERVAL_MS,
} from '../posthog-flags.internal-constants.js';
import { Redactor } from '../redact.js';
import type { FlagsRedis } from '../redis/flags-redis.js';
import { adaptRedisClient } from '../redis/redis-client.factory.js';
import { cacheKeys, type CacheKeys } from './cache-keys.js';
import { ChangeSubscription } from './change-subscription.js';
import { QUOTA_NOTICE } from './notices.js';
import { decodeEnvelope, encodeEnvelope } from './definitions-envelope.js';
import {
  ACQUIRE_OR_RENEW,
  FENCED_WRITE,
  RECORD_QUOTA_LIMITED,
  RELEASE,
  VERIFY,
} from './lease-scripts.js';
import { observeFetch, type FetchObserver, type PostHogFetch } from './observed-fetch.js';

export interface RedisFlagDefinitionCacheOptions {
  /** The client for commands: an ioredis client, or the module's `FlagsRedis` view of one. Not closed by the cache. */
  redis: FlagsRedis | object;
  /** Selects the project's keys (through a fingerprint; the key itself is never stored). */
  projectApiKey: string;
  keyPrefix?: string;
  /** The SDK's polling interval. Default 30 000. */
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

interface SharedMeta {
  hash: string;
  verifiedAt: number | null;
  leader: string | null;
  quotaLimitedAt: number | null;
}

const EMPTY_DEFINITIONS: FlagDefinitionCacheData = Object.freeze({
  flags: [],
  group_type_mapping: {},
  groupTypeMapping: {},
  cohorts: {},
}) as FlagDefinitionCacheData;

/**
 * posthog-node's `FlagDefinitionCacheProvider` backed by Redis, with a sticky leader lease: one
 * process polls PostHog and publishes the definitions; the others read them from Redis.
 *
 * @example
 * const cache = new RedisFlagDefinitionCache({ redis, projectApiKey });
 * const posthog = new PostHog(projectApiKey, {
 *   secretKey, flagDefinitionCacheProvider: cache, fetch: cache.wrapFetch(),
 * });
 * cache.bindClient(posthog);
 */
export class RedisFlagDefinitionCache implements FlagDefinitionCacheProvider, FetchObserver {
  readonly instanceId: string;
  readonly keys: CacheKeys;
  readonly status: FlagsStatusTracker;
  readonly generation: DefinitionsGeneration;

  private readonly redis: FlagsRedis;
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly leaderMaxFailures: number;
  private readonly coldStartWaitMs: number;
  private readonly canFetch: boolean;
  private readonly redactor: Redactor;
  private readonly logger: Pick<Logger, 'log' | 'warn' | 'error'>;
  private readonly changes?: ChangeSubscription;

  private isLeader = false;
  private isShutDown = false;
  /** Shutdown has begun: never lead again, write nothing; still read the shared copy. */
  private leaving = false;
  /** Hash and parsed copy of the definitions this process last handed to (or got from) the SDK. */
  private current?: { hash: string; data: FlagDefinitionCacheData };
  /** What the last lease call saw of the shared copy. */
  private shared = { exists: false, hash: '' };
  private consecutiveFailures = 0;
  private stepDownUntil = 0;
  private awaitingBody = false;
  private quotaLimited = false;
  private coldWaitDone = false;
  private reloadForChange = false;
  /** Ends posthog-node's fetch backoff (bound by `bindClient`). */
  private resetPollBackoff?: () => void;
  /** Follower bookkeeping: while the leader visibly verifies, a follower's poll is one small read. */
  private leaseHeldElsewhere = false;
  private lastSeenVerifiedAt: number | null = null;
  private verifySeenChangingAt = 0;
  private releaseNoticed = false;
  private metaReadFailed = false;

  constructor(options: RedisFlagDefinitionCacheOptions) {
    const pollingIntervalMs = options.pollingIntervalMs ?? DEFAULT_POLLING_INTERVAL_MS;
    this.redis = isFlagsRedis(options.redis) ? options.redis : adaptRedisClient(options.redis);
    this.keys = cacheKeys(options.keyPrefix ?? DEFAULT_KEY_PREFIX, options.projectApiKey);
    this.leaseTtlMs = options.leaseTtlMs ?? 3 * pollingIntervalMs;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
    this.leaderMaxFailures = options.leaderMaxFailures ?? 3;
    this.coldStartWaitMs = options.coldStartWaitMs ?? 3_000;
    this.canFetch = options.canFetch ?? true;
    this.instanceId =
      options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.status =
      options.status ?? new FlagsStatusTracker(this.canFetch ? 'follower' : 'reader', 'ready');
    this.generation = options.generation ?? new DefinitionsGeneration();
    this.redactor = new Redactor(options.secrets ?? []);
    this.logger = options.logger ?? new Logger('PostHogFlags');
    if (options.subscriber !== false) {
      this.changes = new ChangeSubscription(this.redis, this.keys.changedChannel, this.logger);
    }
  }

  /** Lets change notifications reload the client's definitions at once. */
  bindClient(client: Pick<PostHog, 'reloadFeatureFlags'>): void {
    // posthog-node backs its poller off after a 401/403/429 and clears that only on its own next
    // 200/304. A leader that steps down never fetches again as a follower, so it would go on
    // reading Redis at the backed-off pace (up to 60 s) for good: stale, health flapping, slow to
    // take over. Its backoff protects PostHog only while it fetches.
    const poller = (client as unknown as { featureFlagsPoller?: { clearBackoff?: () => void } })
      .featureFlagsPoller;
    if (typeof poller?.clearBackoff === 'function') {
      this.resetPollBackoff = () => poller.clearBackoff!();
    }
    this.changes?.start({
      onReleased: () => {
        this.releaseNoticed = true;
      },
      onChange: (announced) => this.reloadFor(client, announced),
    });
  }

  /**
   * Reloads after a change notice. A reload can join a poll that read Redis just before the
   * change, so it repeats (a few times at most) until the announced content is in.
   */
  private async reloadFor(
    client: Pick<PostHog, 'reloadFeatureFlags'>,
    announced: string,
  ): Promise<void> {
    for (let attempt = 0; attempt < 3 && !this.isShutDown; attempt++) {
      if (this.isLeader || announced === this.current?.hash) return;
      // A change notice makes a follower read; it must never make it take the lease and fetch.
      this.reloadForChange = true;
      try {
        await client.reloadFeatureFlags();
      } finally {
        this.reloadForChange = false;
      }
      if (announced === QUOTA_NOTICE) return;
    }
  }

  /** The `fetch` to hand posthog-node: it reports 304s and failures to this cache. */
  wrapFetch(inner: PostHogFetch = globalThis.fetch as unknown as PostHogFetch): PostHogFetch {
    return observeFetch(inner, [this]);
  }

  /** The content hash of the definitions this process holds, if any. */
  get currentHash(): string | undefined {
    return this.current?.hash;
  }

  async shouldFetchFlagDefinitions(): Promise<boolean> {
    if (this.isShutDown || this.leaving || this.reloadForChange) return false;
    this.noteUnusableBody();
    if (Date.now() < this.stepDownUntil || this.leaderLooksAlive()) return false;
    this.releaseNoticed = false;
    let reply: [number, number, string, number?];
    try {
      reply = (await this.command(
        this.redis.runScript(
          ACQUIRE_OR_RENEW,
          [this.keys.lease, this.keys.definitions, this.keys.meta],
          [this.instanceId, this.leaseTtlMs],
        ),
        'lease',
      )) as [number, number, string, number?];
    } catch (error) {
      // posthog-node fetches when this throws: Redis is down, so this process polls alone.
      this.setLeader(false, 'standalone');
      throw error;
    }
    if (this.isShutDown) return false;
    const [state, exists, hash, leasePttl] = reply;
    this.shared = { exists: exists === 1, hash };
    this.leaseHeldElsewhere = state === 0;
    // Held elsewhere: skip the lease call until that lease could have lapsed, and no longer. (A
    // full TTL from now would add up to one more TTL to a failover: a leader that died right
    // after renewing, before its verification showed, is seen "quiet" before its lease ends.)
    if (state === 0) {
      const remaining =
        typeof leasePttl === 'number' && leasePttl > 0 ? leasePttl : this.leaseTtlMs;
      this.verifySeenChangingAt =
        Date.now() - this.leaseTtlMs + Math.min(remaining, this.leaseTtlMs);
    }
    this.setLeader(state > 0, state > 0 ? 'leader' : 'follower');
    if (!this.isLeader) await this.waitForColdStartCopy();
    return this.isLeader;
  }

  async getFlagDefinitions(): Promise<FlagDefinitionCacheData | undefined> {
    if (this.isShutDown) return undefined;
    // Only a process that does not fetch this poll reads the shared copy: no backoff for it.
    this.resetPollBackoff?.();
    let meta: SharedMeta | undefined;
    try {
      meta = await this.readMeta();
      this.metaReadFailed = false;
      if (!this.canFetch) this.setLeader(false, 'reader');
    } catch (error) {
      this.metaReadFailed = true;
      this.noteRedisError(error);
      return undefined;
    }
    if (!meta) return this.absentCopy();
    this.status.leader = meta.leader;
    if (meta.verifiedAt !== this.lastSeenVerifiedAt) {
      this.lastSeenVerifiedAt = meta.verifiedAt;
      this.verifySeenChangingAt = Date.now();
    }
    if (meta.quotaLimitedAt !== null) return this.quotaLimitedCopy();
    this.status.quotaLimited = false;
    if (this.current?.hash === meta.hash) {
      this.status.emit('followerRead', 'unchanged');
      this.status.markLoaded(this.current.data.flags.length, null, meta.verifiedAt);
      return this.current.data;
    }
    return this.readFullCopy(meta);
  }

  async onFlagDefinitionsReceived(data: FlagDefinitionCacheData): Promise<void> {
    this.awaitingBody = false;
    this.consecutiveFailures = 0;
    this.quotaLimited = false;
    if (this.isShutDown || this.leaving) return;
    const now = Date.now();
    const { hash, serialized } = encodeEnvelope(data, now);
    // posthog-node already swapped its definitions; memoized results stay valid if nothing changed.
    if (this.current?.hash !== hash) this.generation.changed(data);
    this.current = { hash, data };
    this.status.markLoaded(data.flags.length, now, now);
    this.status.quotaLimited = false;
    this.status.lastError = null;
    try {
      const written = await this.command(
        this.redis.runScript(
          FENCED_WRITE,
          [this.keys.lease, this.keys.definitions, this.keys.meta],
          [this.instanceId, serialized, hash, now, now, this.keys.changedChannel],
        ),
        'definitions write',
      );
      if (written === 0) {
        this.setLeader(false, 'follower');
        this.logger.warn('Lost the definitions lease before writing: the write was fenced off');
        return;
      }
      this.shared = { exists: true, hash };
      this.status.leader = this.instanceId;
    } catch (error) {
      // Followers get nothing while the leader cannot write: count it towards stepping down.
      this.noteRedisError(error);
      await this.noteFetchFailure();
    }
  }

  beforeDefinitionsRequest(headers: Record<string, string>): void {
    // posthog-node keeps its ETag even when the shared copy was lost or never written; a 304 would
    // then leave Redis empty forever, so ask for the full body instead.
    const sharedOutOfStep =
      this.isLeader && (!this.shared.exists || this.shared.hash !== this.current?.hash);
    if (sharedOutOfStep || this.quotaLimited) delete headers['If-None-Match'];
  }

  async onDefinitionsResponse(outcome: FetchOutcome): Promise<void> {
    this.status.emit('fetch', outcome);
    if (outcome === 200) {
      this.awaitingBody = true;
      return;
    }
    if (outcome === 304) {
      this.consecutiveFailures = 0;
      this.status.markVerified(Date.now());
      this.status.lastError = null;
      if (this.isLeader && !this.isShutDown) await this.recordVerified();
      return;
    }
    if (outcome === 402) {
      await this.recordQuotaLimited();
      return;
    }
    this.status.lastError = describeFetchFailure(outcome);
    await this.noteFetchFailure();
  }

  async shutdown(): Promise<void> {
    if (this.isShutDown) return;
    this.isShutDown = true;
    const wasLeader = this.isLeader;
    this.isLeader = false;
    await Promise.all([
      this.changes?.stop(this.commandTimeoutMs),
      wasLeader ? this.releaseLease() : undefined,
    ]);
  }

  /**
   * Leaves the lease protocol (the app is shutting down): releases the lease if held, never leads
   * or writes again, but keeps reading the shared copy while the app drains. Never throws.
   */
  async stepAside(): Promise<void> {
    if (this.leaving || this.isShutDown) return;
    this.leaving = true;
    if (!this.isLeader) return;
    this.setLeader(false, 'follower');
    await this.releaseLease();
  }

  /** Gives up the lease if this process holds it (compare-and-delete). Never throws. */
  async releaseLease(): Promise<boolean> {
    try {
      const released = await this.command(
        this.redis.runScript(
          RELEASE,
          [this.keys.lease],
          [this.instanceId, this.keys.changedChannel],
        ),
        'lease release',
      );
      if (released === 1) this.status.emit('lease', 'released');
      return released === 1;
    } catch (error) {
      this.logger.warn(`Could not release the definitions lease: ${this.redactor.error(error)}`);
      return false;
    }
  }

  /**
   * A follower skips the lease call while another process holds it and keeps verifying the shared
   * copy (meta's verifiedAt moved within a lease TTL, by this process's clock). It tries again
   * when the leader goes quiet, announces a release, or Redis failed (so it can fall back).
   */
  private leaderLooksAlive(): boolean {
    return (
      !this.isLeader &&
      this.leaseHeldElsewhere &&
      this.shared.exists &&
      !this.releaseNoticed &&
      !this.metaReadFailed &&
      Date.now() - this.verifySeenChangingAt < this.leaseTtlMs
    );
  }

  private async readMeta(): Promise<SharedMeta | undefined> {
    // The one read of an unchanged poll: four short fields, well under 200 bytes on the wire.
    const [hash, verifiedAt, leader, quota] = await this.command(
      this.redis.hmget(this.keys.meta, ['h', 'v', 'l', 'q']),
      'meta read',
    );
    if (!hash) return undefined;
    const quotaLimitedAt = Number(quota);
    return {
      hash,
      verifiedAt: toNumber(verifiedAt),
      leader: leader ?? null,
      quotaLimitedAt: quotaLimitedAt > 0 ? quotaLimitedAt : null,
    };
  }

  private async readFullCopy(meta: SharedMeta): Promise<FlagDefinitionCacheData | undefined> {
    let raw: string | null;
    try {
      raw = await this.command(this.redis.get(this.keys.definitions), 'definitions read');
    } catch (error) {
      this.noteRedisError(error);
      return undefined;
    }
    if (raw === null) return this.absentCopy();
    try {
      const envelope = decodeEnvelope(raw, meta.hash);
      const isChange = this.current !== undefined; // the first load is no fan-out
      this.current = { hash: envelope.hash, data: envelope.data };
      this.generation.changed(envelope.data);
      this.status.emit('followerRead', 'full');
      if (isChange) this.status.emit('propagation', Math.max(0, Date.now() - envelope.fetchedAt));
      this.status.markLoaded(envelope.data.flags.length, envelope.fetchedAt, meta.verifiedAt);
      this.status.lastError = null;
      return envelope.data;
    } catch (error) {
      this.status.emit('followerRead', 'invalid');
      this.status.lastError = `ignored the definitions in Redis: ${this.redactor.error(error)}`;
      this.logger.warn(
        `Ignored the definitions in Redis (${this.keys.definitions}): ${this.redactor.error(error)}`,
      );
      return undefined;
    }
  }

  /**
   * No shared copy. A process that holds definitions keeps them (undefined). A follower with
   * nothing, past its cold-start wait, gets an empty placeholder: posthog-node would otherwise make
   * an emergency fetch on every poll, N fetches per interval while PostHog is down. It stays not
   * ready (flags off) until the leader's copy arrives, which a change notice delivers at once.
   */
  private absentCopy(): FlagDefinitionCacheData | undefined {
    if (this.status.loaded || !this.canFetch || !this.coldWaitDone) return undefined;
    this.status.lastError = 'no shared definitions in Redis yet: waiting for the leader';
    return EMPTY_DEFINITIONS;
  }

  /** The leader saw 402: every process evaluates with no flags, as posthog-node does on a 402. */
  private quotaLimitedCopy(): FlagDefinitionCacheData {
    this.status.quotaLimited = true;
    this.status.lastError = describeFetchFailure(402);
    if (this.current?.hash !== 'quota-limited') {
      this.current = { hash: 'quota-limited', data: EMPTY_DEFINITIONS };
      this.generation.changed(EMPTY_DEFINITIONS);
    }
    return EMPTY_DEFINITIONS;
  }

  /** On a cold cache, a process that lost the lease waits for the leader's copy instead of fetching too. */
  private async waitForColdStartCopy(): Promise<void> {
    if (this.coldWaitDone || this.current || this.shared.exists) {
      this.coldWaitDone = true;
      return;
    }
    const deadline = Date.now() + this.coldStartWaitMs;
    const changed = this.changes?.nextChange();
    while (Date.now() < deadline && !this.isShutDown) {
      const notified = await Promise.race([
        changed?.then(() => true),
        sleep(100).then(() => false),
      ]);
      if (notified) break;
      try {
        if ((await this.command(this.redis.exists(this.keys.definitions), 'exists')) === 1) break;
      } catch {
        break;
      }
    }
    this.coldWaitDone = true;
  }

  private async recordVerified(): Promise<void> {
    const now = Date.now();
    try {
      const verified = await this.command(
        this.redis.runScript(
          VERIFY,
          [this.keys.lease, this.keys.definitions, this.keys.meta],
          [this.instanceId, now],
        ),
        'verify',
      );
      if (verified === 0) this.setLeader(false, 'follower');
      if (verified === -1) this.shared = { exists: false, hash: '' };
    } catch (error) {
      this.noteRedisError(error);
    }
  }

  private async recordQuotaLimited(): Promise<void> {
    this.quotaLimited = true;
    this.current = undefined;
    this.generation.changed(EMPTY_DEFINITIONS);
    this.status.quotaLimited = true;
    this.status.lastError = describeFetchFailure(402);
    if (!this.isLeader || this.isShutDown) return;
    try {
      await this.command(
        this.redis.runScript(
          RECORD_QUOTA_LIMITED,
          [this.keys.lease, this.keys.meta],
          [this.instanceId, Date.now(), this.keys.changedChannel],
        ),
        'quota record',
      );
    } catch (error) {
      this.noteRedisError(error);
    }
  }

  /** A leader that cannot reach PostHog steps down after a few polls, so another process can try. */
  private async noteFetchFailure(): Promise<void> {
    this.consecutiveFailures++;
    if (!this.isLeader || this.consecutiveFailures < this.leaderMaxFailures) return;
    this.logger.warn(
      `Stepping down as definitions leader after ${this.consecutiveFailures} failed polls (${this.status.lastError})`,
    );
    this.consecutiveFailures = 0;
    this.stepDownUntil = Date.now() + this.leaseTtlMs;
    this.setLeader(false, 'follower');
    await this.releaseLease();
  }

  /** A 200 whose body posthog-node rejected (no `flags`, not JSON) never reaches `onFlagDefinitionsReceived`. */
  private noteUnusableBody(): void {
    if (!this.awaitingBody) return;
    this.awaitingBody = false;
    this.status.lastError = 'PostHog answered 200 with unusable definitions';
    void this.noteFetchFailure();
  }

  private setLeader(leader: boolean, role: 'leader' | 'follower' | 'standalone' | 'reader'): void {
    if (leader !== this.isLeader) this.status.emit('lease', leader ? 'acquired' : 'lost');
    this.isLeader = leader;
    this.status.role = role;
    this.status.redis = role === 'standalone' ? 'down' : 'ready';
    if (leader) this.status.leader = this.instanceId;
  }

  private noteRedisError(error: unknown): void {
    this.status.redis = 'down';
    this.status.lastError = `redis: ${this.redactor.error(error)}`;
  }

  private command<T>(promise: Promise<T>, what: string): Promise<T> {
    return bounded(promise, this.commandTimeoutMs, `Redis ${what}`);
  }
}

function isFlagsRedis(value: object): value is FlagsRedis {
  return typeof (value as FlagsRedis).runScript === 'function';
}

function toNumber(value: string | null): number | null {
  const n = Number(value);
  return value !== null && Number.isFinite(n) && n > 0 ? n : null;
}
