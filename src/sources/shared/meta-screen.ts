import type { SharedMeta } from './lease-protocol.js';

/** A moment on this process's monotonic clock (ms): never compared with another host's clock. */
export type MonotonicNow = () => number;

export interface MetaScreenOptions {
  /**
   * How far a new `verifiedAt` may run ahead of the last one plus the time this process saw pass
   * (ms). A follower sees each verification up to one of its intervals late, so this is one
   * interval plus a small skew.
   */
  aheadToleranceMs: number;
  /** Told, by kind, why meta was not taken as written (the caller rate-limits the log). */
  onDistrust(kind: 'verifiedAt' | 'quota', message: string): void;
  now?: MonotonicNow;
}

interface Sighting {
  value: number;
  at: number;
}

/**
 * Meta is written by the leader's scripts, but anyone with access to Redis can write it too. The
 * screen hands on only what a leader could have written, judged on this process's own clock:
 *
 * - `verifiedAt` counts as a new verification only when it moves forward by no more than the time
 *   this process saw pass since the last one (plus a tolerance). The leader's clock may be hours
 *   off ours: only its rate matters, never its offset. A value that jumps (a new leader with
 *   another clock, or a forged one) becomes a candidate: the next verification that follows it
 *   plausibly is taken, so a real leader change costs one interval and a forged value none.
 * - `q` (quota limited) counts only once the leader has recorded it again (its next poll answered
 *   402 too) while no verification came in between: one forged write, with or without a quota
 *   notice, is cleared by the leader's next verification before it is believed.
 */
export class MetaScreen {
  private accepted?: Sighting;
  private candidate?: Sighting;
  private lastRawVerifiedAt: number | null = null;
  private quota?: { first: number; verifiedAt: number | null; confirmed: boolean };
  private readonly now: MonotonicNow;

  constructor(private readonly o: MetaScreenOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  /** Meta as the leader could have written it. Idempotent for an unchanged raw meta. */
  screen(raw: SharedMeta): SharedMeta {
    const verifiedAt = this.screenVerifiedAt(raw.verifiedAt);
    return { ...raw, verifiedAt, quotaLimitedAt: this.screenQuota(raw, verifiedAt) };
  }

  private screenVerifiedAt(raw: number | null): number | null {
    if (raw === null || raw === this.lastRawVerifiedAt) return this.accepted?.value ?? null;
    this.lastRawVerifiedAt = raw;
    const now = this.now();
    if (
      !this.accepted ||
      this.follows(this.accepted, raw, now) ||
      this.follows(this.candidate, raw, now)
    ) {
      this.accepted = { value: raw, at: now };
      this.candidate = undefined;
    } else {
      this.candidate = { value: raw, at: now };
      this.o.onDistrust(
        'verifiedAt',
        `meta's verifiedAt moved from ${this.accepted.value} to ${raw}, more than ` +
          `${Math.round(now - this.accepted.at)} ms seen here: not counted as a verification`,
      );
    }
    return this.accepted.value;
  }

  private follows(previous: Sighting | undefined, value: number, now: number): boolean {
    if (!previous || value <= previous.value) return false;
    return value - previous.value <= now - previous.at + this.o.aheadToleranceMs;
  }

  private screenQuota(raw: SharedMeta, verifiedAt: number | null): number | null {
    const q = raw.quotaLimitedAt;
    if (q === null) {
      this.quota = undefined;
      return null;
    }
    // A verification since the quota was first seen contradicts it: start over from this record.
    if (!this.quota || this.quota.verifiedAt !== verifiedAt) {
      this.quota = { first: q, verifiedAt, confirmed: false };
    } else if (!this.quota.confirmed && q !== this.quota.first) {
      this.quota.confirmed = true;
    }
    if (this.quota.confirmed) return q;
    this.o.onDistrust(
      'quota',
      'meta records a quota limit: believed once the leader records it again with no verification between',
    );
    return null;
  }
}
