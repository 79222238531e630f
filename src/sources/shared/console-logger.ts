/** What the shared cache logs through: Nest's `Logger` fits, so does `console`. */
export interface CacheLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * The logger of a cache used without the module (plain posthog-node): console lines under the
 * module's name. Not Nest's `Logger`: loading `@nestjs/common` costs ~0.3 s of CPU, which a process
 * without Nest would pay before its first fetch (16 such processes on 2 cores: seconds).
 */
export const consoleCacheLogger: CacheLogger = {
  log: (message) => console.log(`[PostHogFlags] ${message}`),
  warn: (message) => console.warn(`[PostHogFlags] ${message}`),
  error: (message) => console.error(`[PostHogFlags] ${message}`),
};
