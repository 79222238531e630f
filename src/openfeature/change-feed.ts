import type { FeatureFlagsService } from '../posthog-flags.service.js';

/** Subscribes to the flag keys of each definitions change; returns the unsubscribe. */
export type ChangeFeed = (listener: (flagsChanged: string[]) => void) => () => void;

/** The change events of `FeatureFlagsService.changes()`, as the provider reads them. */
export function changeFeedOf(flags: FeatureFlagsService): ChangeFeed | undefined {
  const service = flags as unknown as {
    changes?: () => {
      subscribe(next: (event: { keys: string[] }) => void): { unsubscribe(): void };
    };
  };
  if (typeof service.changes !== 'function') return undefined;
  const changes = service.changes.bind(service);
  return (listener) => {
    const subscription = changes().subscribe((event) => listener([...event.keys]));
    return () => subscription.unsubscribe();
  };
}
