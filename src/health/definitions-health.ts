import type { FlagsStatus } from '../flags-status.js';

/** How the definitions stand, as health judges them; the OpenFeature provider's events use it too. */
export type DefinitionsHealth =
  /** Loaded and confirmed by PostHog within `maxAgeMs` (remote mode: the last `/flags` call worked). */
  | 'fresh'
  /** Loaded, but PostHog has not confirmed them for longer than `maxAgeMs`: served as they are. */
  | 'stale'
  /** Over the feature-flag quota: every flag reads off, whatever the age of the last verification. */
  | 'quota-limited'
  /** Nothing loaded yet. */
  | 'not-loaded';

/** The one judgement behind `isHealthy()` (up only when `fresh`) and the provider's STALE. */
export function assessDefinitions(status: FlagsStatus, maxAgeMs: number): DefinitionsHealth {
  if (!status.ready) return 'not-loaded';
  if (status.quotaLimited) return 'quota-limited';
  // Remote mode has no definitions to age: it is healthy while /flags calls succeed.
  const fresh = status.role === 'remote' || (status.ageMs !== null && status.ageMs <= maxAgeMs);
  return fresh ? 'fresh' : 'stale';
}
