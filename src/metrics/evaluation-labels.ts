import type { FlagsEventMap } from '../flags-status.js';

/** An evaluation's outcome as a metric label: the guard's denials apart from a service's `false`. */
export type EvaluationResult = 'enabled' | 'disabled' | 'denied';

export function evaluationResult({
  enabled,
  denied,
}: FlagsEventMap['evaluation']): EvaluationResult {
  return denied ? 'denied' : enabled ? 'enabled' : 'disabled';
}
