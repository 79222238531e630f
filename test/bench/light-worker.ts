/**
 * A light fleet member for fleet-scale figures (64 processes on 2 cores): this module's
 * `RedisFlagDefinitionCache` and posthog-node with no Nest app or HTTP server around them. Reports
 * `{ type: 'ready' }` once it holds definitions, and `{ type: 'serving', marker, at }` each time
 * it loads a set whose marker flag it had not seen. Config: BENCH_LIGHT_WORKER (JSON).
 */
import { Redis } from 'ioredis';
import { PostHog } from 'posthog-node';
// The cache's own file, not the package root: the root loads Nest and Terminus (~0.4 s of CPU
// per process on 2 cores), which a Nest app loads anyway and posthog-node alone never does.
import { RedisFlagDefinitionCache } from '../../src/sources/shared/redis-flag-definition-cache.js';

export interface LightWorkerConfig {
  projectApiKey: string;
  secretKey: string;
  host: string;
  redisUrl: string;
  pollingIntervalMs: number;
}

/** A change's marker: the key of its `marker-…` flag. */
const MARKER = /^marker-/;

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_LIGHT_WORKER ?? '{}') as LightWorkerConfig;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
  const cache = new RedisFlagDefinitionCache({
    redis,
    projectApiKey: config.projectApiKey,
    pollingIntervalMs: config.pollingIntervalMs,
    logger: quiet,
  });
  const posthog = new PostHog(config.projectApiKey, {
    host: config.host,
    secretKey: config.secretKey,
    featureFlagsPollingInterval: null,
    flagDefinitionCacheProvider: cache,
    fetch: cache.wrapFetch(),
    flushAt: 1_000,
  });
  posthog.on('error', () => undefined);
  let seen: string | undefined;
  let ready = false;
  posthog.on('localEvaluationFlagsLoaded', () => {
    void posthog
      .evaluateFlags('bench-user', { onlyEvaluateLocally: true })
      .then((flags) => {
        const marker = flags.keys.find((key) => MARKER.test(key));
        if (!ready) {
          ready = true;
          process.send?.({ type: 'ready', role: cache.role });
        }
        if (marker && marker !== seen) {
          seen = marker;
          process.send?.({ type: 'serving', marker, at: Date.now() });
        }
      })
      .catch(() => undefined);
  });
  cache.bindClient(posthog);
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'role') process.send?.({ type: 'role', role: cache.role });
  });
  process.on('disconnect', () => {
    void cache
      .shutdown()
      .then(() => posthog.shutdown(500))
      .catch(() => undefined)
      .finally(() => {
        redis.disconnect();
        process.exit(0);
      });
  });
}

main().catch((error: unknown) => {
  console.error('light worker failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
