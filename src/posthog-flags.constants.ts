/** Injection token of the raw `posthog-node` client. Prefer `@InjectPostHog()`. */
export const POSTHOG_CLIENT = Symbol.for('nestjs-posthog-flags:posthog-client');

/** Injection token of the Redis client the module uses (absent without `redis`). Prefer `@InjectPostHogFlagsRedis()`. */
export const POSTHOG_FLAGS_REDIS = Symbol.for('nestjs-posthog-flags:redis');

/** Injection token of the `FlagDefinitionCacheProvider` handed to posthog-node, if any. */
export const FLAG_DEFINITION_CACHE = Symbol.for('nestjs-posthog-flags:definition-cache');
