// Internal names: never exported from the package root.

/** Resolved (validated, defaulted) options. */
export const RESOLVED_OPTIONS = Symbol.for('nestjs-posthog-flags:resolved-options');
/** The `DefinitionsSource` of this module instance (one per mode). */
export const DEFINITIONS_SOURCE = Symbol.for('nestjs-posthog-flags:definitions-source');

export const FEATURE_FLAG_METADATA = 'nestjs-posthog-flags:feature-flags';
export const SKIP_FEATURE_FLAG_METADATA = 'nestjs-posthog-flags:skip';
/** On a handler with `@FlagValue()` / `@Flags()` parameters: the guard keeps its decision for them. */
export const READS_FLAGS_METADATA = 'nestjs-posthog-flags:reads-flags';

export const DEFAULT_KEY_PREFIX = 'posthog:flags';
export const DEFAULT_HOST = 'https://us.i.posthog.com';
export const DEFAULT_POLLING_INTERVAL_MS = 30_000;
/** posthog-node refuses polling intervals below this (it clamps silently). */
export const POSTHOG_MIN_POLLING_INTERVAL_MS = 100;

/** Where `@UseGuards()` keeps its list (stable across Nest 11 and 12; not exported from the root). */
export const GUARDS_METADATA = '__guards__';
