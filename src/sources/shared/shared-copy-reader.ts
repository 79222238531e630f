import type { Logger } from '@nestjs/common';
import type { FlagDefinitionCacheData } from 'posthog-node';
import { sleep } from '../../bounded.js';
import type { DefinitionsGeneration } from '../../definitions-generation.js';
import { describeFetchFailure, type FlagsStatusTracker } from '../../flags-status.js';
import type { Redactor } from '../../redact.js';
import type { ChangeSubscription } from './change-subscription.js';
import { InvalidEnvelopeError, type DefinitionsEnvelope } from './definitions-envelope.js';
import type { LeaseProtocol, SharedMeta } from './lease-protocol.js';
import { MetaScreen } from './meta-screen.js';
import type { RedisContentWarnings } from './redis-content-warnings.js';
import { readSharedCopy } from './read-shared-copy.js';

export const EMPTY_DEFINITIONS: FlagDefinitionCacheData = Object.freeze({
  flags: [],
  group_type_mapping: {},
  groupTypeMapping: {},
  cohorts: {},
}) as FlagDefinitionCacheData;

const QUOTA_LIMITED_HASH = 'quota-limited';
/** How far two hosts' view of one interval may disagree (scheduling, network), on top of an interval. */
const SMALL_SKEW_MS = 2_000;
/**
 * Far above any real project's definitions (8,000 flags take about 6 MB of JSON). Caps both the
 * stored bytes of either copy (STRLEN, before the GET) and what the compressed copy may inflate
 * to, so a small key cannot become a huge allocation in every follower.
 */
const MAX_DEFINITIONS_BYTES = 64 * 1024 * 1024;

/** How a cold follower's wait ended: the copy is there, the lease is free again, or it gave up. */
export type ColdWaitEnd = 'copy' | 'leaseFree' | 'gaveUp';

export interface SharedCopyReaderOptions {
  lease: LeaseProtocol;
  status: FlagsStatusTracker;
  generation: DefinitionsGeneration;
  redactor: Redactor;
  logger: Pick<Logger, 'warn'>;
  /** Rate-limited warnings about what Redis holds. */
  warnings: RedisContentWarnings;
  /** This process's interval: how late it may see a verification. */
  pollingIntervalMs: number;
  /** False for a reader: it never gets the empty placeholder (it cannot fetch anyway). */
  canFetch: boolean;
  /** The longest a follower on a cold cache waits for the leader's first copy. */
  coldStartWaitMs: number;
  changes?: ChangeSubscription;
}

/**
 * The follower path: what this process holds, and the reads that keep it equal to the shared copy.
 * An unchanged interval costs one small meta read and no work for the SDK.
 */
export class SharedCopyReader {
  /** Hash and parsed copy of the definitions this process last handed to (or got from) the SDK. */
  current?: { hash: string; data: FlagDefinitionCacheData };
  private coldWaitDone = false;
  /** A shared copy found invalid: not read again until meta announces another hash. */
  private rejectedHash?: string;
  private readonly screen: MetaScreen;

  constructor(private readonly o: SharedCopyReaderOptions) {
    this.screen = new MetaScreen({
      aheadToleranceMs: o.pollingIntervalMs + SMALL_SKEW_MS,
      onDistrust: (kind, message) => o.warnings.warn(kind, () => `Redis: ${message}`),
    });
  }

  /** Meta as a leader could have written it, or 'failed' when Redis did not answer (recorded in status). */
  async peekMeta(): Promise<SharedMeta | undefined | 'failed'> {
    try {
      const meta = await this.o.lease.readMeta();
      return meta && this.screen.screen(meta);
    } catch (error) {
      this.noteRedisError(error);
      return 'failed';
    }
  }

  /** Whether meta announces something other than what this process holds. */
  differs(meta: SharedMeta | undefined): boolean {
    if (!meta || meta.hash === this.rejectedHash) return false;
    if (meta.quotaLimitedAt !== null) return this.current?.hash !== QUOTA_LIMITED_HASH;
    return this.current?.hash !== meta.hash;
  }

  /** Meta confirms what this process holds: the leader verified it again. */
  noteUnchanged(meta: SharedMeta): void {
    this.o.status.leader = meta.leader;
    this.reportStalledLeader();
    if (meta.quotaLimitedAt !== null || !this.current) return;
    this.o.status.emit('followerRead', 'unchanged');
    this.o.status.markLoaded(this.current.data.flags.length, null, meta.verifiedAt);
  }

  /** The SDK's `getFlagDefinitions` for a process that does not fetch this time. */
  async read(): Promise<FlagDefinitionCacheData | undefined> {
    const meta = await this.peekMeta();
    if (meta === 'failed') return undefined;
    if (!meta) return this.absentCopy();
    this.o.status.leader = meta.leader;
    if (meta.quotaLimitedAt !== null) return this.quotaLimitedCopy();
    this.o.status.quotaLimited = false;
    if (this.current?.hash === meta.hash) {
      this.noteUnchanged(meta);
      return this.current.data;
    }
    return this.readFullCopy(meta);
  }

  /** This process fetched `data` itself (leader or standalone). */
  adopt(hash: string, data: FlagDefinitionCacheData): void {
    if (this.current?.hash !== hash) this.o.generation.changed(data);
    this.current = { hash, data };
  }

  /** PostHog answered 402 to this process: it evaluates with no flags, as posthog-node does. */
  dropForQuota(): void {
    this.current = undefined;
    this.o.generation.changed(EMPTY_DEFINITIONS);
    this.o.status.quotaLimited = true;
    this.o.status.lastError = describeFetchFailure(402);
  }

  /** On a cold cache, a process that lost the lease waits for the leader's copy instead of fetching too. */
  async waitForColdStartCopy(sharedExists: boolean, stopped: () => boolean): Promise<ColdWaitEnd> {
    if (this.coldWaitDone || this.current || sharedExists) {
      this.coldWaitDone = true;
      return 'copy';
    }
    const deadline = Date.now() + this.o.coldStartWaitMs;
    const changed = this.o.changes?.nextChange();
    let end: ColdWaitEnd = 'gaveUp';
    while (Date.now() < deadline && !stopped()) {
      const notified = await Promise.race([
        changed?.then(() => true),
        sleep(100).then(() => false),
      ]);
      try {
        if (notified || (await this.o.lease.definitionsExist())) {
          end = 'copy';
          break;
        }
        // The first leader died or gave up before writing (its cold lease ran out): contend.
        if (!(await this.o.lease.leaseHeld())) return 'leaseFree';
      } catch {
        break;
      }
    }
    this.coldWaitDone = true;
    return end;
  }

  noteRedisError(error: unknown): void {
    this.o.status.redis = 'down';
    this.o.status.lastError = `redis: ${this.o.redactor.error(error)}`;
  }

  private async readFullCopy(meta: SharedMeta): Promise<FlagDefinitionCacheData | undefined> {
    if (meta.hash === this.rejectedHash) return undefined;
    let envelope: DefinitionsEnvelope | null;
    try {
      envelope = await readSharedCopy(this.o.lease, meta.hash, MAX_DEFINITIONS_BYTES);
    } catch (error) {
      if (error instanceof InvalidEnvelopeError) {
        return this.reject(meta, this.o.redactor.error(error));
      }
      this.noteRedisError(error);
      return undefined;
    }
    if (envelope === null) return this.absentCopy();
    try {
      const isChange = this.current !== undefined; // the first load is no fan-out
      this.current = { hash: envelope.hash, data: envelope.data };
      this.o.generation.changed(envelope.data);
      this.o.status.emit('followerRead', 'full');
      if (isChange) this.o.status.emit('propagation', Math.max(0, Date.now() - envelope.fetchedAt));
      this.o.status.markLoaded(envelope.data.flags.length, envelope.fetchedAt, meta.verifiedAt);
      this.o.status.lastError = null;
      return envelope.data;
    } catch (error) {
      return this.reject(meta, this.o.redactor.error(error));
    }
  }

  private reject(meta: SharedMeta, reason: string): undefined {
    this.rejectedHash = meta.hash;
    this.o.status.emit('followerRead', 'invalid');
    this.o.status.lastError = `ignored the definitions in Redis: ${reason}`;
    this.o.warnings.warn(
      'invalid copy',
      () => `Ignored the definitions in Redis (${this.o.lease.keys.definitions}): ${reason}`,
    );
    return undefined;
  }

  /** A holder that renews its lease but never verifies keeps everyone else from fetching: say so. */
  private reportStalledLeader(): void {
    const status = this.o.status;
    if (!status.leaderStalled()) return;
    this.o.warnings.warn(
      'stalled leader',
      () =>
        `The definitions lease holder (last named ${status.leader ?? 'nobody'}) has not ` +
        `verified definitions for ${Math.round((status.ageMs() ?? 0) / 1_000)} s: ` +
        `definitions are not being refreshed`,
    );
  }

  /**
   * No shared copy. A process that holds definitions keeps them (undefined). A follower with
   * nothing, past its cold-start wait, gets an empty placeholder: posthog-node would otherwise make
   * an emergency fetch on every evaluation. It stays not ready (flags off) until the leader's copy
   * arrives, which a change notice delivers at once.
   */
  absentCopy(): FlagDefinitionCacheData | undefined {
    if (this.o.status.loaded || !this.o.canFetch || !this.coldWaitDone) return undefined;
    this.o.status.lastError = 'no shared definitions in Redis yet: waiting for the leader';
    return EMPTY_DEFINITIONS;
  }

  /** The leader saw 402: every process evaluates with no flags, as posthog-node does on a 402. */
  private quotaLimitedCopy(): FlagDefinitionCacheData {
    this.o.status.quotaLimited = true;
    this.o.status.lastError = describeFetchFailure(402);
    if (this.current?.hash !== QUOTA_LIMITED_HASH) {
      this.current = { hash: QUOTA_LIMITED_HASH, data: EMPTY_DEFINITIONS };
      this.o.generation.changed(EMPTY_DEFINITIONS);
    }
    return EMPTY_DEFINITIONS;
  }
}
