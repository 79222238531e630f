import type { FlagsRole, FlagsStatusTracker } from '../../flags-status.js';

/**
 * What a process is doing in the lease protocol. Each role holds only its own fields; the role
 * lives in one field of the role machine and changes only through `transition`.
 */
export type Role =
  /** Nothing tried yet. */
  | { kind: 'cold' }
  /** Saw the lease free (released, lapsed, or Redis just came back): asks for it next. */
  | {
      kind: 'contending';
      /** The leader's last verification seen as a follower: a verification is news only if newer. */
      verifiedAtSeen: number | null;
    }
  /** Holds the lease: fetches from PostHog and writes the shared copy. */
  | {
      kind: 'leader';
      /** Consecutive failed fetches by this leader (it steps down at `leaderMaxFailures`). */
      failures: number;
      /** PostHog answered 200 and the SDK has not yet handed over the body (unusable if never). */
      awaitingBody: boolean;
      /** The content hash the shared copy holds, as last seen ('' = none). */
      sharedHash: string;
    }
  /** Another process holds the lease: reads the shared copy when its hash changes. */
  | {
      kind: 'follower';
      /** Until when (this process's clock) the leader counts as alive without a lease call. */
      leaderAliveUntil: number;
      /** The leader's last verification seen in meta. */
      verifiedAtSeen: number | null;
      /** The leader announced its release: ask for the lease at the next interval. */
      releaseNoticed: boolean;
    }
  /** Gave up the lease after failed fetches: leaves it to others until `until`. */
  | { kind: 'steppedDown'; until: number }
  /** No secret key: never leads, reads the shared copy. */
  | { kind: 'reader' }
  /** Redis unreachable: polls PostHog alone until Redis answers again. */
  | {
      kind: 'standalone';
      /** Refused fetches in a row (401/403/429/5xx), for its own backoff while Redis is away. */
      failures: number;
      /** No fetch before this time (this process's clock). */
      retryAt: number;
    }
  /** The app is shutting down: leads and writes nothing, still reads the shared copy. */
  | { kind: 'leaving' }
  | { kind: 'closed' };

export type RoleKind = Role['kind'];

export interface RoleContext {
  status: FlagsStatusTracker;
  instanceId: string;
  /** False for a reader (no secret key). */
  canFetch: boolean;
}

/** The `status().role` each state reports. */
export function reportedRole(role: Role, canFetch: boolean): FlagsRole {
  switch (role.kind) {
    case 'leader':
      return 'leader';
    case 'standalone':
      return 'standalone';
    case 'reader':
      return 'reader';
    default:
      return canFetch ? 'follower' : 'reader';
  }
}

/**
 * The one place a role changes: emits the lease events and derives `status` (role, Redis state,
 * leader) from the new role. Also called with a role of the same kind, to record that the call
 * that decided it reached Redis.
 */
export function transition(from: Role, to: Role, context: RoleContext): Role {
  const { status } = context;
  if (from.kind === 'closed') return from;
  const wasLeader = from.kind === 'leader';
  const isLeader = to.kind === 'leader';
  if (isLeader && !wasLeader) status.emit('lease', 'acquired');
  if (wasLeader && !isLeader && to.kind !== 'closed') status.emit('lease', 'lost');
  if (to.kind !== 'closed') {
    status.role = reportedRole(to, context.canFetch);
    status.redis = to.kind === 'standalone' ? 'down' : 'ready';
  }
  if (isLeader) status.leader = context.instanceId;
  return to;
}

export function newLeader(sharedHash: string): Role {
  return { kind: 'leader', failures: 0, awaitingBody: false, sharedHash };
}
