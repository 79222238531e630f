import type { FlagEvaluationContext } from './evaluation-context.js';

/**
 * Marks a request whose `personProperties` / `groups` / `groupProperties` (or `distinctId`)
 * resolver threw: the evaluator denies every flag for it rather than guessing without them.
 */
export const UNRESOLVABLE_CONTEXT: FlagEvaluationContext = Object.freeze({});

/**
 * A distinct id as PostHog accepts it: a non-empty string or a finite number, at most `maxLength`
 * characters. Anything else (objects, arrays, booleans, NaN) counts as missing rather than being
 * turned into `"[object Object]"`, one user shared by every attacker. Overlong ids are refused,
 * not hashed: a hash would evaluate (and send events) as a user PostHog has never seen.
 */
export function acceptDistinctId(value: unknown, maxLength: number): string | undefined {
  let id: string;
  if (typeof value === 'string') id = value;
  else if (typeof value === 'number' && Number.isFinite(value)) id = String(value);
  else return undefined;
  return id === '' || id.length > maxLength ? undefined : id;
}

/**
 * The context with every string longer than `maxLength` removed (as if unset, so conditions on it
 * are inconclusive: the flag is off), and resolver results that are not objects ignored. Returns
 * the same object when nothing needed removing, which is the common case.
 */
export function capContext(
  context: FlagEvaluationContext | undefined,
  maxLength: number,
): FlagEvaluationContext | undefined {
  if (!context || context === UNRESOLVABLE_CONTEXT) return context;
  const { personProperties, groups, groupProperties } = context;
  const capped = {
    personProperties: capRecord(personProperties, maxLength),
    groups: capGroups(groups, maxLength),
    groupProperties: capGroupProperties(groupProperties, maxLength),
  };
  const same =
    capped.personProperties === personProperties &&
    capped.groups === groups &&
    capped.groupProperties === groupProperties;
  return same ? context : capped;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function capRecord<T extends Record<string, unknown>>(
  record: T | undefined,
  maxLength: number,
): T | undefined {
  if (record === undefined) return undefined;
  if (!isRecord(record)) return undefined;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (key.length <= maxLength && (typeof value !== 'string' || value.length <= maxLength)) {
      continue;
    }
    copy ??= { ...record };
    delete copy[key];
  }
  return (copy as T | undefined) ?? record;
}

/** Group keys are ids like distinct ids: strings or finite numbers, capped. */
function capGroups<T extends Record<string, unknown>>(
  groups: T | undefined,
  maxLength: number,
): T | undefined {
  const capped = capRecord(groups, maxLength);
  if (!capped) return capped;
  let copy: Record<string, unknown> | undefined;
  for (const [type, key] of Object.entries(capped)) {
    if (acceptDistinctId(key, maxLength) !== undefined) continue;
    copy ??= { ...capped };
    delete copy[type];
  }
  return (copy as T | undefined) ?? capped;
}

function capGroupProperties<T extends Record<string, Record<string, unknown>>>(
  groupProperties: T | undefined,
  maxLength: number,
): T | undefined {
  const capped = capRecord(groupProperties, maxLength);
  if (!capped) return capped;
  let copy: Record<string, unknown> | undefined;
  for (const [type, properties] of Object.entries(capped)) {
    const inner = capRecord(properties, maxLength);
    if (inner === properties) continue;
    copy ??= { ...capped };
    if (inner === undefined) delete copy[type];
    else copy[type] = inner;
  }
  return (copy as T | undefined) ?? capped;
}
