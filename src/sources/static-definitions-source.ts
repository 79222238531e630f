import type { FlagDefinitionCacheData, FlagDefinitionCacheProvider } from 'posthog-node';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';

/** Normalizes endpoint-shaped definitions into what posthog-node's cache hook accepts. */
export function toCacheData(definitions: FlagDefinitions): FlagDefinitionCacheData {
  const groupTypeMapping = definitions.group_type_mapping ?? {};
  return {
    ...definitions,
    flags: definitions.flags as unknown as FlagDefinitionCacheData['flags'],
    group_type_mapping: groupTypeMapping,
    groupTypeMapping,
    cohorts: (definitions.cohorts ?? {}) as FlagDefinitionCacheData['cohorts'],
  };
}

/**
 * Offline definitions (an object or a JSON file), served through posthog-node's cache hook so they
 * are evaluated by the real engine with no PostHog and no Redis.
 */
export class StaticDefinitionsSource implements FlagDefinitionCacheProvider {
  private data: FlagDefinitionCacheData;

  /** `onRead` runs each time the client takes the definitions (its poll). */
  constructor(
    definitions: FlagDefinitions,
    private readonly onRead?: () => void,
  ) {
    this.data = toCacheData(definitions);
  }

  /** Replaces the definitions; the client picks them up on its next reload. */
  replace(definitions: FlagDefinitions): void {
    this.data = toCacheData(definitions);
  }

  get flagCount(): number {
    return this.data.flags.length;
  }

  getFlagDefinitions(): FlagDefinitionCacheData {
    this.onRead?.();
    return this.data;
  }

  shouldFetchFlagDefinitions(): boolean {
    return false;
  }

  onFlagDefinitionsReceived(): void {}

  shutdown(): void {}
}
