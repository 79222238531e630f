import type { FeatureFlagKey, FeatureFlagValueOf } from '../feature-flag-keys.js';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';

/** A test flag: on/off, a variant key, or a value with its payload. */
export type TestFlagValue = boolean | string | { value: boolean | string; payload?: unknown };

/** What flag `K` may be set to in a test: its declared values (any `TestFlagValue` until declared). */
type TestFlagValueOf<K extends FeatureFlagKey> =
  FeatureFlagValueOf<K> | { value: FeatureFlagValueOf<K>; payload?: unknown };

/**
 * A map of test flags, e.g. `{ 'new-checkout': true, pricing: 'test-b' }`. Keys and variants are
 * checked once the app declares `FeatureFlagKeys`.
 */
export type TestFlagMap = { [K in FeatureFlagKey]?: TestFlagValueOf<K> };

/**
 * Definitions under which every user gets the given value: real PostHog definitions, so the real
 * engine evaluates them (with the SDK's own semantics for variants and payloads).
 */
export function definitionsFromFlagMap(
  flags: Readonly<Record<string, TestFlagValue | undefined>>,
): FlagDefinitions {
  const set = Object.entries(flags).filter(
    (entry): entry is [string, TestFlagValue] => entry[1] !== undefined,
  );
  return {
    flags: set.map(([key, raw], index) => {
      const { value, payload } = typeof raw === 'object' ? raw : { value: raw, payload: undefined };
      const variant = typeof value === 'string' ? value : undefined;
      const payloadKey = variant ?? 'true';
      return {
        id: index + 1,
        key,
        name: key,
        active: value !== false,
        deleted: false,
        ensure_experience_continuity: false,
        filters: {
          groups: [{ properties: [], rollout_percentage: 100, variant: null }],
          multivariate: variant
            ? { variants: [{ key: variant, name: variant, rollout_percentage: 100 }] }
            : undefined,
          payloads: payload === undefined ? {} : { [payloadKey]: JSON.stringify(payload) },
        },
      };
    }),
    group_type_mapping: {},
    cohorts: {},
  };
}

/**
 * Why a value is not a flag map, or undefined when it is one. Values come from users' JSON files
 * too, so each bad entry is named with what was found.
 */
export function flagMapProblem(value: Record<string, unknown>): string | undefined {
  for (const [key, raw] of Object.entries(value)) {
    const flagValue =
      raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : { value: raw };
    const { value: setting } = flagValue as { value?: unknown };
    if (typeof setting !== 'boolean' && (typeof setting !== 'string' || setting === '')) {
      return `flag "${key}" must be true, false, a variant key or { value, payload } (got ${shortDescription(raw)})`;
    }
  }
  return undefined;
}

function shortDescription(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object without a boolean or variant `value`';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return typeof value === 'number' ? String(value) : `a ${typeof value}`;
}
