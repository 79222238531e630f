import type { FeatureFlagValue } from './evaluation/evaluation-context.js';

/**
 * The app's flags, empty here: an app declares its own by declaration merging (or generates the
 * declaration with `npx nestjs-posthog-flags types`), and every flag key and variant the module
 * takes is then checked at compile time. A boolean flag maps to `boolean`, a multivariate flag to
 * the union of its variant keys. An interface, not a type alias, because only interfaces merge.
 *
 * @example
 * declare module 'nestjs-posthog-flags' {
 *   interface FeatureFlagKeys {
 *     'new-checkout': boolean;
 *     'pricing-experiment': 'control' | 'test-a' | 'test-b';
 *   }
 * }
 */
export interface FeatureFlagKeys {}

type DeclaredKey = keyof FeatureFlagKeys;

/** Whether the app declared its flags: evaluated in the app's program, where its declaration merged. */
type Declared = [DeclaredKey] extends [never] ? false : true;

/** A flag key: any string until `FeatureFlagKeys` is declared, then one of its keys. */
// `& string`, not `Extract<…>`: tsc's errors then list the declared keys, not `keyof FeatureFlagKeys`.
// oxlint-disable-next-line typescript/no-redundant-type-constituents -- never only in this package's own build
export type FeatureFlagKey = Declared extends true ? DeclaredKey & string : string;

/** The variant keys of flag `K` (`never` for a boolean flag); any string until declared. */
export type FeatureFlagVariant<K extends FeatureFlagKey = FeatureFlagKey> = Declared extends true
  ? K extends DeclaredKey
    ? Extract<FeatureFlagKeys[K], string>
    : never
  : string;

/**
 * What reading flag `K` gives: `true`/`false` for a boolean flag, one of its variant keys or `false`
 * for a multivariate flag; `FeatureFlagValue` until declared.
 */
export type FeatureFlagValueOf<K extends FeatureFlagKey = FeatureFlagKey> = Declared extends true
  ? K extends DeclaredKey
    ? FeatureFlagKeys[K] extends boolean
      ? boolean
      : Extract<FeatureFlagKeys[K], string> | false
    : never
  : FeatureFlagValue;
