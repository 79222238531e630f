import type { FlagDefinitionCacheData, FlagDefinitionCacheProvider } from 'posthog-node';
import { DefinitionsGeneration } from '../definitions-generation.js';
import {
  describeFetchFailure,
  type FetchOutcome,
  type FlagsStatusTracker,
} from '../flags-status.js';
import type { FetchObserver } from './observed-fetch.js';

/**
 * For a process that polls PostHog alone (no Redis): always fetches, and records what arrives so
 * status, health and memoized evaluations follow the definitions.
 */
export class StandaloneDefinitionsObserver implements FlagDefinitionCacheProvider, FetchObserver {
  private isShutDown = false;

  constructor(
    private readonly status: FlagsStatusTracker,
    private readonly generation: DefinitionsGeneration,
  ) {}

  getFlagDefinitions(): undefined {
    return undefined;
  }

  shouldFetchFlagDefinitions(): boolean {
    return !this.isShutDown;
  }

  onFlagDefinitionsReceived(data: FlagDefinitionCacheData): void {
    const now = Date.now();
    this.generation.changed(data);
    this.status.markLoaded(data.flags.length, now, now);
    this.status.quotaLimited = false;
    this.status.lastError = null;
  }

  onDefinitionsResponse(outcome: FetchOutcome): void {
    this.status.emit('fetch', outcome);
    if (outcome === 304) {
      this.status.markVerified(Date.now());
      this.status.lastError = null;
    } else if (outcome === 402) {
      this.generation.changed({ flags: [], groupTypeMapping: {}, cohorts: {} });
      this.status.quotaLimited = true;
      this.status.lastError = describeFetchFailure(402);
    } else if (outcome !== 200) {
      this.status.lastError = describeFetchFailure(outcome);
    }
  }

  shutdown(): void {
    this.isShutDown = true;
  }
}
