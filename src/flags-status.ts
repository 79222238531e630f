import { DefinitionsFreshness } from './status/definitions-freshness.js';
import { ErrorRecord } from './status/error-record.js';

/** What this process is doing for definitions. */
export type FlagsRole = 'leader' | 'follower' | 'reader' | 'standalone' | 'remote' | 'offline';

/** `FeatureFlagsService.status()`: the state of this process's flag definitions. Never holds a secret. */
export interface FlagsStatus {
  /** Definitions are loaded (or, in remote mode, the last `/flags` call succeeded). */
  ready: boolean;
  role: FlagsRole;
  flagCount: number;
  /** When the current definitions were fetched from PostHog (epoch ms). */
  fetchedAt: number | null;
  /** When PostHog last confirmed them, by a 200 or a 304 seen by any leader (epoch ms). */
  verifiedAt: number | null;
  /**
   * Milliseconds since this process saw `verifiedAt` change, on its own monotonic clock: clocks of
   * other hosts (the leader's wrote `verifiedAt`) never move it.
   */
  ageMs: number | null;
  redis: 'ready' | 'down' | 'none';
  /** The current lease holder's id (`host:pid:random`), when known. */
  leader: string | null;
  /** PostHog answered 402: the project is over its feature-flag quota. */
  quotaLimited: boolean;
  /** The current problem, sanitised; `null` once the module has recovered from it. */
  lastError: string | null;
  /** The most recent problem, kept after recovery (equal to `lastError` while it lasts). */
  previousError: string | null;
  /** When `previousError` was seen (epoch ms). */
  lastErrorAt: number | null;
  /** Flags denied for everyone: a regex condition that could stall the process (ReDoS). */
  unsafeFlags: string[];
  /**
   * A follower whose lease holder has gone without a verification for 3 lease TTLs: the holder
   * renews its lease but no longer confirms definitions with PostHog (nobody else may).
   */
  leaderStalled: boolean;
}

/** A definitions request's outcome, as counted for health and metrics. */
export type FetchOutcome = 200 | 304 | 401 | 402 | 403 | 429 | '5xx' | 'other' | 'error';

export interface FlagsEventMap {
  fetch: FetchOutcome;
  lease: 'acquired' | 'lost' | 'released';
  followerRead: 'unchanged' | 'full' | 'invalid';
  evaluation: { flagKey: string; enabled: boolean; denied: boolean };
  /** A follower or reader took new content: ms from the leader's fetch to holding it here. */
  propagation: number;
}
export type FlagsEventListener = <K extends keyof FlagsEventMap>(
  event: K,
  value: FlagsEventMap[K],
) => void;

/** The per-process record behind `status()`, health and metrics, written by the cache and fetch observer. */
export class FlagsStatusTracker {
  role: FlagsRole;
  redis: FlagsStatus['redis'];
  leader: string | null = null;
  quotaLimited = false;
  unsafeFlags: string[] = [];
  /** After how long without a verification a follower reports its lease holder stalled (ms). */
  leaderStalledAfterMs: number | null = null;
  /** Flag keys of the current definitions (or seen from PostHog in remote mode): metric labels. */
  knownFlagKeys: ReadonlySet<string> = new Set();
  private readonly freshness = new DefinitionsFreshness();
  private readonly errors = new ErrorRecord();
  private readonly listeners: FlagsEventListener[] = [];

  constructor(role: FlagsRole, redis: FlagsStatus['redis']) {
    this.role = role;
    this.redis = redis;
  }

  snapshot(): FlagsStatus {
    const ageMs = this.ageMs();
    return {
      ready: this.loaded,
      role: this.role,
      flagCount: this.flagCount,
      fetchedAt: this.fetchedAt,
      verifiedAt: this.verifiedAt,
      ageMs,
      redis: this.redis,
      leader: this.leader,
      quotaLimited: this.quotaLimited,
      lastError: this.lastError,
      previousError: this.previousError,
      lastErrorAt: this.lastErrorAt,
      unsafeFlags: [...this.unsafeFlags],
      leaderStalled: this.leaderStalled(ageMs),
    };
  }

  leaderStalled(ageMs = this.ageMs()): boolean {
    return (
      this.role === 'follower' &&
      this.leaderStalledAfterMs !== null &&
      ageMs !== null &&
      ageMs > this.leaderStalledAfterMs
    );
  }

  ageMs(): number | null {
    return this.freshness.ageMs();
  }

  get loaded(): boolean {
    return this.freshness.loaded;
  }

  set loaded(loaded: boolean) {
    this.freshness.loaded = loaded;
  }

  get flagCount(): number {
    return this.freshness.flagCount;
  }

  get fetchedAt(): number | null {
    return this.freshness.fetchedAt;
  }

  get verifiedAt(): number | null {
    return this.freshness.verifiedAt;
  }

  get lastError(): string | null {
    return this.errors.current;
  }

  set lastError(error: string | null) {
    this.errors.set(error);
  }

  get previousError(): string | null {
    return this.errors.previous;
  }

  get lastErrorAt(): number | null {
    return this.errors.at;
  }

  markLoaded(flagCount: number, fetchedAt: number | null, verifiedAt: number | null): void {
    this.freshness.markLoaded(flagCount, fetchedAt, verifiedAt);
  }

  markVerified(at: number): void {
    this.freshness.markVerified(at);
  }

  /** Subscribes to counters (metrics). Nothing is computed for events while nobody listens. */
  onEvent(listener: FlagsEventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  emit<K extends keyof FlagsEventMap>(event: K, value: FlagsEventMap[K]): void {
    for (const listener of this.listeners) listener(event, value);
  }
}

/** A failed definitions request, in words for `lastError` (never the secret). */
export function describeFetchFailure(outcome: FetchOutcome): string {
  switch (outcome) {
    case 401:
      return 'PostHog answered 401: the project key or secret key is invalid';
    case 402:
      return 'PostHog answered 402: the feature flag quota is exceeded';
    case 403:
      return 'PostHog answered 403: the secret key may not read feature flag definitions';
    case 429:
      return 'PostHog answered 429: rate limited';
    case 'error':
      return 'PostHog could not be reached';
    case '5xx':
      return 'PostHog answered a server error (5xx)';
    default:
      return `PostHog answered an unexpected status (${outcome})`;
  }
}
