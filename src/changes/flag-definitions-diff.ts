import type { PostHogFeatureFlag } from 'posthog-node';
import type { FlagDefinitionChange } from './flag-change.js';

/** Flags by key, each with a serialization that does not depend on the order of its fields. */
export type IndexedFlags = Map<string, { flag: PostHogFeatureFlag; text: string }>;

export function indexFlags(flags: readonly PostHogFeatureFlag[]): IndexedFlags {
  const index: IndexedFlags = new Map();
  for (const flag of flags) index.set(flag.key, { flag, text: stableJson(flag) });
  return index;
}

/** The flags added, removed or changed from `before` to `after`, sorted by key. */
export function diffFlags(before: IndexedFlags, after: IndexedFlags): FlagDefinitionChange[] {
  const changes: FlagDefinitionChange[] = [];
  for (const [key, now] of after) {
    const then = before.get(key);
    if (!then) changes.push({ key, kind: 'added', previous: undefined, current: now.flag });
    else if (then.text !== now.text) {
      changes.push({ key, kind: 'changed', previous: then.flag, current: now.flag });
    }
  }
  for (const [key, then] of before) {
    if (!after.has(key)) {
      changes.push({ key, kind: 'removed', previous: then.flag, current: undefined });
    }
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * JSON with object keys sorted: the same definition serializes the same whichever process (or
 * PostHog response) produced it, so only a real edit counts as a change.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(inner).sort()) {
      sorted[key] = (inner as Record<string, unknown>)[key];
    }
    return sorted;
  });
}
