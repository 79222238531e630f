import { createHash } from 'node:crypto';
import type { LeaseProtocol } from './lease-protocol.js';

/**
 * The leader's side of the shared copy: the fenced write of both copies, and what this process
 * last stored, so that a meta whose hash someone overwrote can be put back without a refetch.
 */
export class SharedCopyWriter {
  /** The copy this process last stored: its content hash and the sha1 of the stored JSON. */
  private stored?: { hash: string; sha1: string };

  constructor(private readonly lease: LeaseProtocol) {}

  /** Writes both copies while the lease is ours. False when fenced off. */
  async write(
    copies: { json: string; compressed: Buffer },
    hash: string,
    at: number,
  ): Promise<boolean> {
    const written = await this.lease.writeDefinitions(copies, hash, at);
    if (written === 0) return false;
    // 2: the value was stored now; 1: the stored value is an earlier write of the same content.
    if (written === 2) this.stored = { hash, sha1: sha1(copies.json) };
    else if (this.stored?.hash !== hash) this.stored = undefined;
    return true;
  }

  /** Puts meta's hash back to `hash` if the stored bytes are still this process's copy of it. */
  async restoreMetaHash(hash: string): Promise<boolean> {
    if (this.stored?.hash !== hash) return false;
    return this.lease.restoreMetaHash(this.stored.sha1, hash);
  }
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
