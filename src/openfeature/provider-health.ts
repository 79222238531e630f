import { ProviderEvents } from '@openfeature/server-sdk';
import type { FlagsStatus } from '../flags-status.js';
import { assessDefinitions } from '../health/definitions-health.js';

/** The provider event the definitions' state calls for, with its message (never a secret). */
export interface HealthEvent {
  event: ProviderEvents.Ready | ProviderEvents.Stale | ProviderEvents.Error;
  message?: string;
}

/**
 * READY while health would say up; STALE while the definitions are loaded but PostHog has not
 * confirmed them within `maxAgeMs` (they are still served); ERROR over quota (every flag reads off)
 * or when nothing loaded and a problem is known. Undefined while still waiting for a first load.
 */
export function healthEvent(status: FlagsStatus, maxAgeMs: number): HealthEvent | undefined {
  switch (assessDefinitions(status, maxAgeMs)) {
    case 'fresh':
      return { event: ProviderEvents.Ready };
    case 'stale':
      return {
        event: ProviderEvents.Stale,
        message: `Flag definitions last confirmed by PostHog ${status.ageMs ?? '?'} ms ago (maxAgeMs ${maxAgeMs})${status.lastError ? `: ${status.lastError}` : ''}`,
      };
    case 'quota-limited':
      return {
        event: ProviderEvents.Error,
        message: status.lastError ?? 'PostHog feature flag quota exceeded: every flag reads off',
      };
    case 'not-loaded':
      return status.lastError === null
        ? undefined
        : { event: ProviderEvents.Error, message: status.lastError };
  }
}
