import { bounded } from '../../bounded.js';
import type { FlagsRedis } from '../../redis/flags-redis.js';
import type { BackoffPolicy } from '../fetch-backoff.js';
import type { CacheKeys } from './cache-keys.js';
import {
  ACQUIRE_OR_RENEW,
  FENCED_WRITE,
  RECORD_BACKOFF,
  RECORD_QUOTA_LIMITED,
  RELEASE,
  RESTORE_META_HASH,
  VERIFY,
} from './lease-scripts.js';
import { CONTENT_HASH } from './notices.js';

const MAX_TOKEN_LENGTH = 256;
/** A lease token names a host and process: printable, no control characters (it reaches logs). */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** The two shared copies: plain JSON (envelope version 1) and compressed (version 2). */
export type SharedCopyKind = 'json' | 'compressed';

/** What one lease call saw. */
export interface LeaseReply {
  /** 2 = acquired a free lease, 1 = renewed our own, 0 = another process holds it. */
  state: 0 | 1 | 2;
  definitionsExist: boolean;
  sharedHash: string;
  /** How long the holder's lease still runs (ms), when another process holds it. */
  leasePttlMs: number;
  /** How long the fleet must still leave PostHog alone (0 = not backed off). */
  backoffRemainingMs: number;
}

/** The small `meta` hash beside the definitions: what followers read each interval. */
export interface SharedMeta {
  hash: string;
  verifiedAt: number | null;
  leader: string | null;
  quotaLimitedAt: number | null;
}

/**
 * The lease protocol's Redis side: atomic scripts and bounded reads for one project. No state:
 * every call says what Redis holds now, and the role machine decides what it means.
 */
export class LeaseProtocol {
  constructor(
    private readonly redis: FlagsRedis,
    readonly keys: CacheKeys,
    readonly token: string,
    private readonly leaseTtlMs: number,
    private readonly commandTimeoutMs: number,
    /** How long a lease taken on an empty cache runs until the first write. */
    private readonly coldLeaseTtlMs = leaseTtlMs,
  ) {}

  async acquireOrRenew(): Promise<LeaseReply> {
    const [state, exists, hash, pttl, backoff] = (await this.command(
      this.redis.runScript(
        ACQUIRE_OR_RENEW,
        [this.keys.lease, this.keys.definitions, this.keys.meta],
        [this.token, this.leaseTtlMs, this.coldLeaseTtlMs],
      ),
      'lease',
    )) as [number, number, string, number?, number?];
    return {
      state: state === 2 ? 2 : state === 1 ? 1 : 0,
      definitionsExist: exists === 1,
      sharedHash: String(hash ?? ''),
      leasePttlMs: typeof pttl === 'number' && pttl > 0 ? pttl : this.leaseTtlMs,
      backoffRemainingMs: typeof backoff === 'number' && backoff > 0 ? backoff : 0,
    };
  }

  /** 0 = fenced off (not our lease), 1 = written, 2 = written and changed (announced). */
  async writeDefinitions(
    copies: { json: string; compressed: Buffer },
    hash: string,
    at: number,
  ): Promise<number> {
    const { lease, definitions, meta, definitionsCompressed } = this.keys;
    return Number(
      await this.command(
        this.redis.runScript(
          FENCED_WRITE,
          [lease, definitions, meta, definitionsCompressed],
          [
            this.token,
            copies.json,
            hash,
            at,
            at,
            this.keys.changedChannel,
            copies.compressed,
            this.leaseTtlMs,
          ],
        ),
        'definitions write',
      ),
    );
  }

  /** A 304. 0 = fenced off, -1 = the shared copy is missing, 1 = verified. */
  async verify(at: number): Promise<number> {
    return Number(
      await this.command(
        this.redis.runScript(
          VERIFY,
          [this.keys.lease, this.keys.definitions, this.keys.meta],
          [this.token, at],
        ),
        'verify',
      ),
    );
  }

  /** True when meta's hash was put back to `hash` (the stored value is still `storedSha1`). */
  async restoreMetaHash(storedSha1: string, hash: string): Promise<boolean> {
    const restored = await this.command(
      this.redis.runScript(
        RESTORE_META_HASH,
        [this.keys.lease, this.keys.definitions, this.keys.meta],
        [this.token, storedSha1, hash],
      ),
      'meta restore',
    );
    return Number(restored) === 1;
  }

  async recordQuotaLimited(at: number): Promise<void> {
    await this.command(
      this.redis.runScript(
        RECORD_QUOTA_LIMITED,
        [this.keys.lease, this.keys.meta],
        [this.token, at, this.keys.changedChannel],
      ),
      'quota record',
    );
  }

  /** Records a refused fetch for the whole fleet. Undefined when fenced off. */
  async recordBackoff(
    policy: BackoffPolicy,
    jitter = Math.random(),
  ): Promise<{ failures: number; delayMs: number } | undefined> {
    const reply = await this.command(
      this.redis.runScript(
        RECORD_BACKOFF,
        [this.keys.lease, this.keys.meta],
        [this.token, policy.baseMs, policy.capMs, jitter.toFixed(3)],
      ),
      'backoff record',
    );
    if (!Array.isArray(reply)) return undefined;
    return { failures: Number(reply[0]), delayMs: Number(reply[1]) };
  }

  /** Compare-and-delete, announced. True when the lease was ours. */
  async release(): Promise<boolean> {
    const released = await this.command(
      this.redis.runScript(RELEASE, [this.keys.lease], [this.token, this.keys.changedChannel]),
      'lease release',
    );
    return Number(released) === 1;
  }

  /**
   * The one read of an unchanged interval: four short fields, well under 200 bytes on the wire.
   * Each field is checked for the shape a leader writes; the reader then judges the values.
   */
  async readMeta(): Promise<SharedMeta | undefined> {
    const [hash, verifiedAt, leader, quota] = await this.command(
      this.redis.hmget(this.keys.meta, ['h', 'v', 'l', 'q']),
      'meta read',
    );
    // Meta is outside data: a hash that is not one of ours means no usable copy.
    if (!hash || !CONTENT_HASH.test(hash)) return undefined;
    return {
      hash,
      verifiedAt: epochMs(verifiedAt),
      leader:
        leader && leader.length <= MAX_TOKEN_LENGTH && !CONTROL_CHARACTER.test(leader)
          ? leader
          : null,
      quotaLimitedAt: epochMs(quota),
    };
  }

  definitionsSize(copy: SharedCopyKind): Promise<number> {
    return this.command(this.redis.strlen(this.copyKey(copy)), 'definitions size');
  }

  /** Bytes as stored: the compressed copy is binary. */
  readDefinitions(copy: SharedCopyKind): Promise<Buffer | null> {
    return this.command(this.redis.getBuffer(this.copyKey(copy)), 'definitions read');
  }

  private copyKey(copy: SharedCopyKind): string {
    return copy === 'compressed' ? this.keys.definitionsCompressed : this.keys.definitions;
  }

  definitionsExist(): Promise<boolean> {
    return this.exists(this.keys.definitions);
  }

  leaseHeld(): Promise<boolean> {
    return this.exists(this.keys.lease);
  }

  private async exists(key: string): Promise<boolean> {
    return (await this.command(this.redis.exists(key), 'exists')) === 1;
  }

  private command<T>(promise: Promise<T>, what: string): Promise<T> {
    return bounded(promise, this.commandTimeoutMs, `Redis ${what}`);
  }
}

/** A millisecond timestamp as the scripts write it: digits only, short (no 5 MiB of them). */
function epochMs(value: string | null): number | null {
  if (value === null || value.length > 16 || !/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n > 0 ? n : null;
}
