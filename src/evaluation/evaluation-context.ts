import type {
  GroupProperties,
  Groups,
  PersonProperties,
} from '../posthog-flags-options.interface.js';

/** What an evaluation may depend on besides the distinct id. */
export interface FlagEvaluationContext {
  personProperties?: PersonProperties;
  groups?: Groups;
  groupProperties?: GroupProperties;
}

/** A flag's value: false, true, or the variant key of a multivariate flag. */
export type FeatureFlagValue = boolean | string;

/** A memo key for one evaluation: equal keys are guaranteed equal results for one definitions generation. */
export function evaluationKey(
  distinctId: string,
  context: FlagEvaluationContext | undefined,
  flagKeys: readonly string[] | undefined,
): string {
  const keys = flagKeys ? flagKeys.join('\u0001') : '*';
  if (!context || (!context.personProperties && !context.groups && !context.groupProperties)) {
    return `${distinctId}\u0000${keys}`;
  }
  return `${distinctId}\u0000${keys}\u0000${stableJson(context.personProperties)}\u0000${stableJson(context.groups)}\u0000${stableJson(context.groupProperties)}`;
}

/** JSON with object keys sorted, so equal property sets give equal keys whatever their order. */
export function stableJson(value: unknown): string {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? '';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  // The guard builds this on every request: no sort (nor copies) when the keys come in order.
  if (!isSorted(keys)) keys.sort();
  const entries: string[] = [];
  for (const key of keys) {
    const item = record[key];
    if (item !== undefined) entries.push(`${JSON.stringify(key)}:${stableJson(item)}`);
  }
  return `{${entries.join(',')}}`;
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return false;
  return true;
}
