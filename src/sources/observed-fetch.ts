import type { PostHogOptions } from 'posthog-node';
import type { FetchOutcome } from '../flags-status.js';

export type PostHogFetch = NonNullable<PostHogOptions['fetch']>;

/**
 * Sees the definitions requests posthog-node makes. posthog-node tells a cache provider nothing
 * about 304s or errors, so this is how the lease protocol learns of them.
 */
export interface FetchObserver {
  /** May drop `If-None-Match` so PostHog answers 200 and the shared copy can be rewritten. */
  beforeDefinitionsRequest?(headers: Record<string, string>): void;
  /** Awaited before posthog-node sees the response. Must not throw. */
  onDefinitionsResponse?(outcome: FetchOutcome): Promise<void> | void;
  /** A remote-evaluation `/flags` call's result. */
  onRemoteFlagsResponse?(ok: boolean): void;
}

export function fetchOutcome(status: number): FetchOutcome {
  if (status === 200 || status === 304 || status === 401 || status === 402) return status;
  if (status === 403 || status === 429) return status;
  return status >= 500 ? '5xx' : 'other';
}

const isDefinitionsRequest = (url: string): boolean => url.includes('/flags/definitions');
const isRemoteFlagsRequest = (url: string): boolean => /\/flags\/?\?/.test(url);

/** Wraps the `fetch` handed to posthog-node so the observers see its definitions traffic. */
export function observeFetch(inner: PostHogFetch, observers: FetchObserver[]): PostHogFetch {
  return async (url, options) => {
    if (isDefinitionsRequest(url)) {
      const headers = { ...options.headers };
      for (const observer of observers) observer.beforeDefinitionsRequest?.(headers);
      let response: Awaited<ReturnType<PostHogFetch>>;
      try {
        response = await inner(url, { ...options, headers });
      } catch (error) {
        for (const observer of observers) await observer.onDefinitionsResponse?.('error');
        throw error;
      }
      const outcome = fetchOutcome(response.status);
      for (const observer of observers) await observer.onDefinitionsResponse?.(outcome);
      return response;
    }
    if (!isRemoteFlagsRequest(url)) return inner(url, options);
    try {
      const response = await inner(url, options);
      for (const observer of observers) observer.onRemoteFlagsResponse?.(response.status === 200);
      return response;
    } catch (error) {
      for (const observer of observers) observer.onRemoteFlagsResponse?.(false);
      throw error;
    }
  };
}

/** A fetch that never leaves the process (offline mode): events are accepted and dropped. */
export const offlineFetch: PostHogFetch = async () => ({
  status: 200,
  text: async () => '{}',
  json: async () => ({}),
  headers: { get: () => null },
});
