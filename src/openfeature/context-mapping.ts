import {
  InvalidContextError,
  TargetingKeyMissingError,
  type EvaluationContext,
} from '@openfeature/server-sdk';
import type { FlagEvaluationContext } from '../evaluation/evaluation-context.js';
import { acceptDistinctId } from '../evaluation/evaluation-input.js';
import type { GroupProperties, Groups } from '../posthog-flags-options.interface.js';

/** What PostHog evaluates with, taken from an OpenFeature evaluation context. */
export interface PostHogEvaluationInput {
  distinctId: string;
  context: FlagEvaluationContext;
}

/**
 * `targetingKey` is the distinct id; a `groups` entry is PostHog's groups and a `groupProperties`
 * entry its group properties (the reserved names PostHog's own OpenFeature provider uses); every
 * other attribute is a person property. Dates become ISO strings, as PostHog compares them.
 * Throws `TARGETING_KEY_MISSING` without a targeting key, `INVALID_CONTEXT` for one PostHog refuses.
 */
export function toPostHogInput(
  context: EvaluationContext,
  maxDistinctIdLength: number,
): PostHogEvaluationInput {
  const { targetingKey, groups, groupProperties, ...attributes } = context;
  if (targetingKey === undefined || targetingKey === '') {
    throw new TargetingKeyMissingError('The evaluation context has no targetingKey (distinct id)');
  }
  const distinctId = acceptDistinctId(targetingKey, maxDistinctIdLength);
  if (distinctId === undefined) {
    throw new InvalidContextError(
      `The targetingKey is not a distinct id PostHog accepts (a string of at most ${maxDistinctIdLength} characters)`,
    );
  }
  const mapped: FlagEvaluationContext = {};
  const personProperties = plain(attributes);
  if (Object.keys(personProperties).length > 0) mapped.personProperties = personProperties;
  if (isRecord(groups)) mapped.groups = plain(groups) as Groups;
  if (isRecord(groupProperties)) mapped.groupProperties = plain(groupProperties) as GroupProperties;
  return { distinctId, context: mapped };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The attributes with dates as ISO strings (nested too); everything else as given. */
function plain(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (value instanceof Date) out[key] = value.toISOString();
    else if (isRecord(value)) out[key] = plain(value);
    else out[key] = value;
  }
  return out;
}
