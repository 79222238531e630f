import type { FlagDefinitionCacheData } from 'posthog-node';

/**
 * Counts changes of the definitions the SDK evaluates with, so memoized evaluations can tell
 * whether they are still valid, and knows which flags depend on the clock.
 */
export class DefinitionsGeneration {
  value = 0;
  /** Flags whose result can change with time alone (relative date conditions). */
  timeDependentKeys: ReadonlySet<string> = new Set();
  /** The definitions last handed to the SDK, for whoever subscribes later. */
  private latest: FlagDefinitionCacheData | undefined;
  private listeners: Array<(data: FlagDefinitionCacheData) => void> = [];

  /** Calls `listener` with the current definitions (if any) and with each new set. */
  onDefinitions(listener: (data: FlagDefinitionCacheData) => void): void {
    this.listeners.push(listener);
    if (this.latest) listener(this.latest);
  }

  /** Memoized evaluations are stale although the definitions are not (e.g. a regex verdict arrived). */
  invalidate(): void {
    this.value++;
  }

  /**
   * The SDK's definitions may change around now. Bumped at once and again after pending
   * microtasks: the SDK applies data a cache read returns in a microtask after the read resolves,
   * so an evaluation that ran in between is not kept either.
   */
  changed(data?: FlagDefinitionCacheData): void {
    if (data) {
      this.timeDependentKeys = findTimeDependentFlags(data);
      this.latest = data;
      for (const listener of this.listeners) listener(data);
    }
    this.value++;
    setImmediate(() => this.value++);
  }
}

/** Flags with date conditions, directly or through a cohort: their result moves with the clock. */
export function findTimeDependentFlags(data: FlagDefinitionCacheData): Set<string> {
  // Conservative: any cohort condition counts when some cohort has a date condition.
  const cohortsAreDated = JSON.stringify(data.cohorts ?? {}).includes('"is_date_');
  const keys = new Set<string>();
  for (const flag of data.flags) {
    const filters = JSON.stringify(flag.filters ?? {});
    if (filters.includes('"is_date_') || (cohortsAreDated && filters.includes('"cohort"'))) {
      keys.add(flag.key);
    }
  }
  return keys;
}
