import type { PostHogFeatureFlag } from 'posthog-node';
import type { FlagDefinitionChange } from './flag-change.js';

/** Flags by key. */
export type IndexedFlags = Map<string, PostHogFeatureFlag>;

export function indexFlags(flags: readonly PostHogFeatureFlag[]): IndexedFlags {
  const index: IndexedFlags = new Map();
  for (const flag of flags) index.set(flag.key, flag);
  return index;
}

/** The flags added, removed or changed from `before` to `after`, sorted by key. */
export function diffFlags(before: IndexedFlags, after: IndexedFlags): FlagDefinitionChange[] {
  const changes: FlagDefinitionChange[] = [];
  for (const [key, current] of after) {
    const previous = before.get(key);
    if (!previous) changes.push({ key, kind: 'added', previous: undefined, current });
    else if (!sameJson(previous, current))
      changes.push({ key, kind: 'changed', previous, current });
  }
  for (const [key, previous] of before) {
    if (!after.has(key)) changes.push({ key, kind: 'removed', previous, current: undefined });
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Whether two JSON values serialize the same up to the order of object fields: the same
 * definition compares equal whichever process or response produced it. A walk, not a
 * serialization: no copy of 8,000 definitions is made to compare them.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // JSON leaves out undefined fields: `{ x: undefined }` is `{}`.
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  let rightCount = 0;
  for (const key in right) if (Object.hasOwn(right, key) && right[key] !== undefined) rightCount++;
  if (keys.length !== rightCount) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}
