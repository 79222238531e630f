/** What the prom-client and OpenTelemetry exporters share, so both report alike. */

import type { FlagsEventMap, FlagsStatusTracker } from '../flags-status.js';

/** Histogram buckets of change propagation (leader's fetch → a follower holds it), in seconds. */
export const PROPAGATION_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** An evaluation's outcome as a metric label: the guard's denials apart from a service's `false`. */
export type EvaluationResult = 'enabled' | 'disabled' | 'denied';

export function evaluationResult({
  enabled,
  denied,
}: FlagsEventMap['evaluation']): EvaluationResult {
  return denied ? 'denied' : enabled ? 'enabled' : 'disabled';
}

/** The `flag` label of checks of keys that are not in the definitions. */
export const UNKNOWN_FLAG_LABEL = '(unknown)';

/**
 * A flag key as a metric label. Never a label from the request: an attacker asking 20k keys must
 * not make 20k series, so keys not in the definitions share one label.
 */
export function flagLabel(status: FlagsStatusTracker, flagKey: string): string {
  return status.knownFlagKeys.has(flagKey) ? flagKey : UNKNOWN_FLAG_LABEL;
}
