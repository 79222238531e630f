import type { PostHogFeatureFlag } from 'posthog-node';

/** One flag whose definition differs between two sets of definitions this process held. */
export interface FlagDefinitionChange {
  key: string;
  kind: 'added' | 'removed' | 'changed';
  /** The definition before the change (`undefined` when the flag was added). */
  previous: PostHogFeatureFlag | undefined;
  /** The definition after the change (`undefined` when the flag was removed). */
  current: PostHogFeatureFlag | undefined;
}

/** What changed when this process adopted new definitions. Never emitted for the first load. */
export interface FlagsChangeEvent {
  /** The keys of every added, removed or changed flag, sorted. */
  keys: string[];
  changes: FlagDefinitionChange[];
  /** When this process adopted the new definitions. */
  at: Date;
}
