/**
 * `nestjs-posthog-flags/cache`: the shared cache for posthog-node without Nest. It loads neither
 * Nest nor Terminus (~75 ms against ~0.4 s for the package root), which a process that never
 * starts a Nest app would otherwise pay before its first fetch.
 */
export {
  RedisFlagDefinitionCache,
  type RedisFlagDefinitionCacheOptions,
} from './sources/shared/redis-flag-definition-cache.js';
export type { CacheLogger } from './sources/shared/console-logger.js';
