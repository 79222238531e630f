import type { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { FlagsStatusTracker } from '../../flags-status.js';
import type { Redactor } from '../../redact.js';
import type { BackoffPolicy } from '../fetch-backoff.js';
import type { LeaseProtocol } from './lease-protocol.js';
import type { SharedCopyReader } from './shared-copy-reader.js';

export interface LeaderWritesOptions {
  lease: LeaseProtocol;
  reader: SharedCopyReader;
  status: FlagsStatusTracker;
  backoff: BackoffPolicy;
  redactor: Redactor;
  logger: Pick<Logger, 'warn'>;
}

/**
 * What a leader writes to Redis (each fenced by its lease): both shared copies, verifications,
 * the fleet's quota and backoff records, the release. Remembers what it last stored, so that a meta
 * whose hash someone overwrote can be put back without a refetch. Recording calls never throw: a
 * Redis error is noted for status and the role machine carries on.
 */
export class LeaderWrites {
  /** The copy this process last stored: its content hash and the sha1 of the stored JSON. */
  private stored?: { hash: string; sha1: string };

  constructor(private readonly o: LeaderWritesOptions) {}

  /** Writes both copies while the lease is ours. False when fenced off; throws on Redis errors. */
  async write(
    copies: { json: string; compressed: Buffer },
    hash: string,
    at: number,
  ): Promise<boolean> {
    const written = await this.o.lease.writeDefinitions(copies, hash, at);
    if (written === 0) return false;
    // 2: the value was stored now; 1: the stored value is an earlier write of the same content.
    if (written === 2) this.stored = { hash, sha1: sha1(copies.json) };
    else if (this.stored?.hash !== hash) this.stored = undefined;
    return true;
  }

  /** Puts meta's hash back to `hash` if the stored bytes are still this process's copy of it. */
  async restoreMetaHash(hash: string): Promise<boolean> {
    if (this.stored?.hash !== hash) return false;
    try {
      return await this.o.lease.restoreMetaHash(this.stored.sha1, hash);
    } catch (error) {
      this.o.reader.noteRedisError(error);
      return false;
    }
  }

  /** A 304. 0 = fenced off, -1 = the shared copy is missing, 1 = verified; undefined: Redis failed. */
  async verify(at: number): Promise<number | undefined> {
    try {
      return await this.o.lease.verify(at);
    } catch (error) {
      this.o.reader.noteRedisError(error);
      return undefined;
    }
  }

  async recordQuotaLimited(): Promise<void> {
    await this.o.lease
      .recordQuotaLimited(Date.now())
      .catch((error: unknown) => this.o.reader.noteRedisError(error));
  }

  async recordBackoff(): Promise<void> {
    await this.o.lease
      .recordBackoff(this.o.backoff)
      .catch((error: unknown) => this.o.reader.noteRedisError(error));
  }

  /** Gives up the lease if this process holds it (compare-and-delete). */
  async release(): Promise<boolean> {
    try {
      const released = await this.o.lease.release();
      if (released) this.o.status.emit('lease', 'released');
      return released;
    } catch (error) {
      this.o.logger.warn(
        `Could not release the definitions lease: ${this.o.redactor.error(error)}`,
      );
      return false;
    }
  }
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
