import type { FlagDefinitions } from '../posthog-flags-options.interface.js';

/** A test flag: on/off, a variant key, or a value with its payload. */
export type TestFlagValue = boolean | string | { value: boolean | string; payload?: unknown };

/** A map of test flags, e.g. `{ 'new-checkout': true, pricing: 'test-b' }`. */
export type TestFlagMap = Record<string, TestFlagValue>;

/**
 * Definitions under which every user gets the given value: real PostHog definitions, so the real
 * engine evaluates them (with the SDK's own semantics for variants and payloads).
 */
export function definitionsFromFlagMap(flags: TestFlagMap): FlagDefinitions {
  return {
    flags: Object.entries(flags).map(([key, raw], index) => {
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
