import type { Logger } from '@nestjs/common';
import type { FlagDefinitionCacheData } from 'posthog-node';
import {
  describeFetchFailure,
  type FetchOutcome,
  type FlagsStatusTracker,
} from '../../flags-status.js';
import type { Redactor } from '../../redact.js';
import { backoffDelayMs, callsForBackoff, type BackoffPolicy } from '../fetch-backoff.js';
import { definitionsHash, encodeEnvelope } from './definitions-envelope.js';
import type { LeaseProtocol, SharedMeta } from './lease-protocol.js';
import type { RedisContentWarnings } from './redis-content-warnings.js';
import { newLeader, transition, type Role, type RoleKind } from './role.js';
import type { SharedCopyReader } from './shared-copy-reader.js';
import { LeaderWrites } from './leader-writes.js';

/** What this interval's load does: fetch from PostHog, read the shared copy, or nothing. */
export type LoadDecision = 'fetch' | 'read' | 'wait';

export interface RoleMachineOptions {
  lease: LeaseProtocol;
  reader: SharedCopyReader;
  status: FlagsStatusTracker;
  instanceId: string;
  canFetch: boolean;
  leaseTtlMs: number;
  leaderMaxFailures: number;
  backoff: BackoffPolicy;
  redactor: Redactor;
  logger: Pick<Logger, 'warn'>;
  /** Rate-limited warnings about what Redis holds. */
  warnings: RedisContentWarnings;
}

/**
 * The lease protocol's decisions for one process: which role it is in, and what each answer from
 * Redis or PostHog moves it to. The role is the machine's only state.
 */
export class RoleMachine {
  private role: Role;
  /** The leader's writes; not role state (it remembers what it last stored). */
  private readonly writes: LeaderWrites;

  constructor(private readonly o: RoleMachineOptions) {
    this.role = o.canFetch ? { kind: 'cold' } : { kind: 'reader' };
    this.writes = new LeaderWrites(o);
  }

  get kind(): RoleKind {
    return this.role.kind;
  }

  get stopped(): boolean {
    return this.role.kind === 'closed' || this.role.kind === 'leaving';
  }

  /** The lease call of an interval (or of a load posthog-node started itself). */
  async decide(): Promise<LoadDecision> {
    const kind = this.role.kind;
    if (kind === 'closed' || kind === 'leaving' || kind === 'reader') return 'read';
    this.noteUnusableBody();
    if (this.role.kind === 'steppedDown' && Date.now() < this.role.until) return 'read';
    // A follower asks for the lease only when its leader went quiet, released it, or Redis failed.
    if (this.role.kind === 'follower') {
      this.to({ kind: 'contending', verifiedAtSeen: this.role.verifiedAtSeen });
    }
    let reply;
    try {
      reply = await this.o.lease.acquireOrRenew();
    } catch (error) {
      // Redis is down: this process polls alone (with its own backoff) until Redis answers.
      this.o.reader.noteRedisError(error);
      const { failures, retryAt } =
        this.role.kind === 'standalone' ? this.role : { failures: 0, retryAt: 0 };
      this.to({ kind: 'standalone', failures, retryAt });
      return Date.now() < retryAt ? 'wait' : 'fetch';
    }
    if (this.stopped) return 'read';
    const sharedHash = reply.definitionsExist ? reply.sharedHash : '';
    if (reply.state > 0) {
      this.to(this.role.kind === 'leader' ? { ...this.role, sharedHash } : newLeader(sharedHash));
      return reply.backoffRemainingMs > 0 ? 'wait' : 'fetch';
    }
    const seen = this.role.kind === 'contending' ? this.role.verifiedAtSeen : null;
    this.to({
      kind: 'follower',
      leaderAliveUntil: Date.now() + reply.leasePttlMs,
      verifiedAtSeen: seen,
      releaseNoticed: false,
    });
    const end = await this.o.reader.waitForColdStartCopy(
      reply.definitionsExist,
      () => this.stopped,
    );
    return end === 'leaseFree' && !this.stopped ? this.decide() : 'read';
  }

  /**
   * A follower's interval: whether it may leave the lease alone. It may while the leader visibly
   * verifies (meta's verifiedAt moved within a lease TTL, by this process's clock) and has not
   * announced a release; it asks for the lease when the leader goes quiet or Redis failed.
   */
  mayRest(meta: SharedMeta | undefined | 'failed'): boolean {
    const role = this.role;
    if (role.kind === 'steppedDown') return Date.now() < role.until;
    if (role.kind !== 'follower' || meta === 'failed' || !meta || role.releaseNoticed) return false;
    if (meta.verifiedAt !== role.verifiedAtSeen) {
      this.to({
        ...role,
        verifiedAtSeen: meta.verifiedAt,
        leaderAliveUntil: Date.now() + this.o.leaseTtlMs,
      });
    }
    return Date.now() < (this.role as typeof role).leaderAliveUntil;
  }

  noticeRelease(): void {
    if (this.role.kind === 'follower') this.to({ ...this.role, releaseNoticed: true });
  }

  /** A reader's meta read answered: Redis is reachable. */
  noteRedisReachable(): void {
    this.to(this.role);
  }

  /**
   * A leader whose meta names another copy than its own, while the stored bytes are still what it
   * wrote (someone overwrote meta alone): puts meta right, so the next poll needs no full body.
   */
  async restoreSharedHash(): Promise<void> {
    const role = this.role;
    const held = this.o.reader.current;
    if (role.kind !== 'leader' || !held || role.sharedHash === held.hash) return;
    if (!(await this.writes.restoreMetaHash(held.hash))) return;
    if (this.role.kind === 'leader') this.to({ ...this.role, sharedHash: held.hash });
    this.o.warnings.warn(
      'meta hash',
      () => "Redis: meta named another copy than the stored one: meta's hash put back",
    );
  }

  /** posthog-node may drop `If-None-Match` so PostHog answers 200 and the shared copy is rewritten. */
  wantsFullBody(): boolean {
    const role = this.role;
    // posthog-node keeps its ETag even when the shared copy was lost or never written; a 304 would
    // then leave Redis empty forever. After a 402 it has no flags for that ETag either.
    const outOfStep = role.kind === 'leader' && role.sharedHash !== this.o.reader.current?.hash;
    return outOfStep || this.o.status.quotaLimited;
  }

  async onReceived(data: FlagDefinitionCacheData): Promise<void> {
    const role = this.role;
    if (role.kind === 'leader') this.to({ ...role, failures: 0, awaitingBody: false });
    if (role.kind === 'standalone') this.to({ kind: 'standalone', failures: 0, retryAt: 0 });
    const now = Date.now();
    // Only a leader writes copies: a standalone process needs the hash, not a brotli encode.
    const copies = this.role.kind === 'leader' && !this.stopped ? encodeEnvelope(data, now) : null;
    const hash = copies?.hash ?? definitionsHash(data);
    // posthog-node already swapped its definitions (also while leaving: the app still serves), so
    // the evaluator's screens must see them; memoized results stay valid if nothing changed.
    this.o.reader.adopt(hash, data);
    if (this.stopped) return;
    this.o.status.markLoaded(data.flags.length, now, now);
    this.o.status.quotaLimited = false;
    this.o.status.lastError = null;
    if (this.role.kind !== 'leader' || !copies) return;
    try {
      if (!(await this.writes.write(copies, hash, now))) {
        this.becomeFollower();
        this.o.logger.warn('Lost the definitions lease before writing: the write was fenced off');
        return;
      }
      if (this.role.kind === 'leader') this.to({ ...this.role, sharedHash: hash });
      this.o.status.leader = this.o.instanceId;
    } catch (error) {
      // Followers get nothing while the leader cannot write: count it towards stepping down.
      this.o.reader.noteRedisError(error);
      await this.noteFetchFailure();
    }
  }

  async onOutcome(outcome: FetchOutcome): Promise<void> {
    this.o.status.emit('fetch', outcome);
    const role = this.role;
    if (outcome === 200) {
      if (role.kind === 'leader') this.to({ ...role, awaitingBody: true });
      return;
    }
    if (outcome === 304) return this.onVerified();
    if (outcome === 402) {
      this.o.reader.dropForQuota();
      if (role.kind === 'leader') await this.writes.recordQuotaLimited();
      return;
    }
    this.o.status.lastError = describeFetchFailure(outcome);
    if (role.kind === 'leader' && callsForBackoff(outcome)) await this.writes.recordBackoff();
    await this.noteFetchFailure(callsForBackoff(outcome));
  }

  /** A 200 whose body posthog-node rejected (no `flags`, not JSON) never reaches `onReceived`. */
  noteUnusableBody(): void {
    if (this.role.kind !== 'leader' || !this.role.awaitingBody) return;
    this.to({ ...this.role, awaitingBody: false });
    this.o.status.lastError = 'PostHog answered 200 with unusable definitions';
    void this.noteFetchFailure();
  }

  /** Shutdown begins: lead and write nothing more. Resolves whether this process held the lease. */
  leave(): boolean {
    if (this.stopped) return false;
    const wasLeader = this.role.kind === 'leader';
    this.to({ kind: 'leaving' });
    return wasLeader;
  }

  /** Resolves whether this process held the lease. */
  close(): boolean {
    const wasLeader = this.role.kind === 'leader';
    this.to({ kind: 'closed' });
    return wasLeader;
  }

  /** Gives up the lease if this process holds it (compare-and-delete). Never throws. */
  release(): Promise<boolean> {
    return this.writes.release();
  }

  private async onVerified(): Promise<void> {
    const role = this.role;
    this.o.status.markVerified(Date.now());
    this.o.status.lastError = null;
    if (role.kind === 'standalone') this.to({ kind: 'standalone', failures: 0, retryAt: 0 });
    if (role.kind !== 'leader') return;
    this.to({ ...role, failures: 0 });
    const verified = await this.writes.verify(Date.now());
    if (verified === 0) this.becomeFollower();
    if (verified === -1 && this.role.kind === 'leader') this.to({ ...this.role, sharedHash: '' });
  }

  /** A leader that cannot reach PostHog steps down after a few fetches, so another can try. */
  private async noteFetchFailure(backsOff = false): Promise<void> {
    const role = this.role;
    if (role.kind === 'standalone') {
      const failures = role.failures + 1;
      const retryAt = backsOff ? Date.now() + backoffDelayMs(failures, this.o.backoff) : 0;
      this.to({ kind: 'standalone', failures, retryAt });
      return;
    }
    if (role.kind !== 'leader') return;
    const failures = role.failures + 1;
    if (failures < this.o.leaderMaxFailures) {
      this.to({ ...role, failures });
      return;
    }
    this.o.logger.warn(
      `Stepping down as definitions leader after ${failures} failed polls (${this.o.status.lastError})`,
    );
    this.to({ kind: 'steppedDown', until: Date.now() + this.o.leaseTtlMs });
    await this.release();
  }

  private becomeFollower(): void {
    this.to({ kind: 'follower', leaderAliveUntil: 0, verifiedAtSeen: null, releaseNoticed: false });
  }

  private to(next: Role): void {
    this.role = transition(this.role, next, this.o);
  }
}
