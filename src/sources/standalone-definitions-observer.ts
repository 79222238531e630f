import type { FlagDefinitionCacheData, FlagDefinitionCacheProvider } from 'posthog-node';
import { DefinitionsGeneration } from '../definitions-generation.js';
import {
  describeFetchFailure,
  type FetchOutcome,
  type FlagsStatusTracker,
} from '../flags-status.js';
import {
  backoffDelayMs,
  backoffPolicy,
  callsForBackoff,
  type BackoffPolicy,
} from './fetch-backoff.js';
import { IntervalScheduler } from './interval-scheduler.js';
import type { FetchObserver } from './observed-fetch.js';
import type { DefinitionsClient } from './shared/redis-flag-definition-cache.js';
import { EMPTY_DEFINITIONS } from './shared/shared-copy-reader.js';

/**
 * For a process that polls PostHog alone (no Redis): fetches once per interval on the module's
 * schedule, backs off after refused fetches, and records what arrives so status, health and
 * memoized evaluations follow the definitions.
 */
export class StandaloneDefinitionsObserver implements FlagDefinitionCacheProvider, FetchObserver {
  private isShutDown = false;
  private scheduler?: IntervalScheduler;
  /** A load the scheduler started (posthog-node's own loads never fetch once bound). */
  private asked = false;
  /** True once the client's first load is over: from then on it fetches only when asked. */
  private owning = false;
  private failures = 0;
  private retryAt = 0;
  private readonly backoff: BackoffPolicy;

  constructor(
    private readonly status: FlagsStatusTracker,
    private readonly generation: DefinitionsGeneration,
    pollingIntervalMs: number,
  ) {
    this.backoff = backoffPolicy(pollingIntervalMs);
  }

  /** Takes over the client's schedule (its own poller is off). */
  bindClient(client: DefinitionsClient): void {
    this.scheduler ??= new IntervalScheduler(
      this.backoff.baseMs,
      async () => {
        if (this.isShutDown || Date.now() < this.retryAt) return;
        this.asked = true;
        try {
          await client.reloadFeatureFlags();
        } finally {
          this.asked = false;
        }
      },
      () => undefined,
    );
    // The client's first load (begun in its constructor) fetches; the schedule owns the rest.
    void client
      .reloadFeatureFlags()
      .catch(() => undefined)
      .finally(() => {
        this.owning = true;
        this.scheduler?.start();
      });
  }

  getFlagDefinitions(): FlagDefinitionCacheData | undefined {
    // Given nothing, posthog-node fetches on its own before its first load: a placeholder instead.
    return this.owning && !this.status.loaded ? EMPTY_DEFINITIONS : undefined;
  }

  shouldFetchFlagDefinitions(): boolean {
    return !this.isShutDown && (this.asked || !this.owning);
  }

  onFlagDefinitionsReceived(data: FlagDefinitionCacheData): void {
    const now = Date.now();
    this.failures = 0;
    this.generation.changed(data);
    this.status.markLoaded(data.flags.length, now, now);
    this.status.quotaLimited = false;
    this.status.lastError = null;
  }

  /**
   * After a 402 posthog-node holds no flags, yet keeps its ETag: PostHog would answer 304 once the
   * quota returns and every flag would stay off. Ask for the full body while over quota.
   */
  beforeDefinitionsRequest(headers: Record<string, string>): void {
    if (this.status.quotaLimited) delete headers['If-None-Match'];
  }

  onDefinitionsResponse(outcome: FetchOutcome): void {
    this.status.emit('fetch', outcome);
    if (outcome === 304) {
      this.failures = 0;
      this.status.markVerified(Date.now());
      this.status.lastError = null;
    } else if (outcome === 402) {
      this.generation.changed({ flags: [], groupTypeMapping: {}, cohorts: {} });
      this.status.quotaLimited = true;
      this.status.lastError = describeFetchFailure(402);
    } else if (outcome !== 200) {
      this.status.lastError = describeFetchFailure(outcome);
      if (callsForBackoff(outcome)) {
        this.failures++;
        this.retryAt = Date.now() + backoffDelayMs(this.failures, this.backoff);
      }
    }
  }

  shutdown(): void {
    this.isShutDown = true;
    this.scheduler?.stop();
  }
}
