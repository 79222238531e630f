import type { FeatureFlagsService } from '../posthog-flags.service.js';

/** Subscribes to the flag keys of each definitions change; returns the unsubscribe. */
export type ChangeFeed = (listener: (flagsChanged: string[]) => void) => () => void;

/** `FeatureFlagsService.changes()` as the provider reads it: the changed keys, one call per change. */
export function changeFeedOf(flags: FeatureFlagsService): ChangeFeed {
  return (listener) => {
    const subscription = flags.changes().subscribe((event) => listener([...event.keys]));
    return () => subscription.unsubscribe();
  };
}
