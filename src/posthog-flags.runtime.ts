import { Logger } from '@nestjs/common';
import { PostHog, type FlagDefinitionCacheProvider, type PostHogOptions } from 'posthog-node';
import {
  observeFetch,
  offlineFetch,
  type FetchObserver,
  type PostHogFetch,
} from './cache/observed-fetch.js';
import { RedisFlagDefinitionCache } from './cache/redis-flag-definition-cache.js';
import { StandaloneDefinitionsObserver } from './cache/standalone-definitions-observer.js';
import { DefinitionsGeneration } from './definitions-generation.js';
import { FlagsStatusTracker, type FlagsRole } from './flags-status.js';
import { StaticDefinitionsSource } from './offline/static-definitions-source.js';
import type { ResolvedPostHogFlagsOptions } from './posthog-flags-options.resolve.js';
import { registerMetrics } from './metrics/posthog-flags.metrics.js';
import { Redactor } from './redact.js';
import { createRedisClient, type RedisHandle } from './redis/redis-client.factory.js';

const INITIAL_ROLE: Record<ResolvedPostHogFlagsOptions['mode'], FlagsRole> = {
  shared: 'follower',
  reader: 'reader',
  standalone: 'standalone',
  remote: 'remote',
  offline: 'offline',
};

/** The parts of a runtime, as `createFlagsRuntime` builds them. */
export interface FlagsRuntimeParts {
  options: ResolvedPostHogFlagsOptions;
  status: FlagsStatusTracker;
  generation: DefinitionsGeneration;
  posthog: PostHog;
  redactor: Redactor;
  redis?: RedisHandle;
  cache?: FlagDefinitionCacheProvider;
  staticSource?: StaticDefinitionsSource;
  /** Removes this runtime's Prometheus metrics (when `metrics` is on). */
  unregisterMetrics?: () => void;
}

/** Everything one module instance opens: built at startup, closed at shutdown. */
export class FlagsRuntime {
  readonly options: ResolvedPostHogFlagsOptions;
  readonly status: FlagsStatusTracker;
  readonly generation: DefinitionsGeneration;
  readonly posthog: PostHog;
  readonly redactor: Redactor;
  readonly redis?: RedisHandle;
  readonly cache?: FlagDefinitionCacheProvider;
  readonly staticSource?: StaticDefinitionsSource;
  private readonly unregisterMetrics?: () => void;
  private readonly logger = new Logger('PostHogFlags');
  private closed?: Promise<void>;

  constructor(parts: FlagsRuntimeParts) {
    this.options = parts.options;
    this.status = parts.status;
    this.generation = parts.generation;
    this.posthog = parts.posthog;
    this.redactor = parts.redactor;
    this.redis = parts.redis;
    this.cache = parts.cache;
    this.staticSource = parts.staticSource;
    this.unregisterMetrics = parts.unregisterMetrics;
  }

  /** Waits for the first definitions, at most `timeoutMs`. Resolves whether they arrived. */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status.loaded && this.options.mode !== 'remote' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.status.loaded;
  }

  /**
   * Shutdown has begun: stop leading now (release the lease, write nothing more) while the app
   * drains its requests, which go on being served from memory. Bounded, never throws.
   */
  async stepAside(): Promise<void> {
    if (this.cache instanceof RedisFlagDefinitionCache) await this.cache.stepAside();
  }

  /** Flushes events, stops the poller (releasing the lease), closes what the module opened. Bounded, never throws. */
  shutdown(timeoutMs = 5_000): Promise<void> {
    this.closed ??= this.close(timeoutMs);
    return this.closed;
  }

  private async close(timeoutMs: number): Promise<void> {
    this.unregisterMetrics?.();
    try {
      await this.posthog.shutdown(timeoutMs);
    } catch (error) {
      this.logger.warn(`PostHog shutdown: ${this.redactor.error(error)}`);
    }
    if (this.redis?.owned) await this.redis.redis.close(this.options.redisCommandTimeoutMs);
  }
}

/** Builds the runtime for the resolved options: Redis, the definitions source, and the client. */
export async function createFlagsRuntime(
  options: ResolvedPostHogFlagsOptions,
): Promise<FlagsRuntime> {
  const logger = new Logger('PostHogFlags');
  const redactor = new Redactor([options.secretKey]);
  const generation = new DefinitionsGeneration();
  const usesRedis = options.mode === 'shared' || options.mode === 'reader';
  const status = new FlagsStatusTracker(INITIAL_ROLE[options.mode], usesRedis ? 'down' : 'none');
  // Registered first: a missing prom-client fails startup before any connection is opened.
  const unregisterMetrics = options.metrics
    ? await registerMetrics(status, options.metrics)
    : undefined;

  let redis: RedisHandle | undefined;
  if (usesRedis) {
    redis = await createRedisClient(options.redis!, {
      commandTimeoutMs: options.redisCommandTimeoutMs,
    });
    redis.redis.onError(logOnce(logger, redactor, 'Redis'));
    const connected = await redis.redis.connect(Math.min(options.startupTimeoutMs, 2_000));
    status.redis = connected ? 'ready' : 'down';
    if (!connected) {
      logger.warn('Redis is not reachable: polling PostHog from this process until it is back');
    }
  }

  const observers: FetchObserver[] = [];
  let cache: FlagDefinitionCacheProvider | undefined;
  let staticSource: StaticDefinitionsSource | undefined;
  let fetch: PostHogFetch = options.posthog.fetch ?? (globalThis.fetch as unknown as PostHogFetch);

  switch (options.mode) {
    case 'shared':
    case 'reader': {
      const redisCache = new RedisFlagDefinitionCache({
        redis: redis!.redis,
        projectApiKey: options.projectApiKey,
        keyPrefix: options.keyPrefix,
        pollingIntervalMs: options.pollingIntervalMs,
        leaseTtlMs: options.leaseTtlMs,
        commandTimeoutMs: options.redisCommandTimeoutMs,
        leaderMaxFailures: options.leaderMaxFailures,
        coldStartWaitMs: Math.min(3_000, options.startupTimeoutMs),
        canFetch: options.mode === 'shared',
        status,
        generation,
        secrets: options.secretKey ? [options.secretKey] : [],
        logger,
      });
      cache = redisCache;
      observers.push(redisCache);
      break;
    }
    case 'standalone': {
      const observer = new StandaloneDefinitionsObserver(status, generation);
      cache = observer;
      observers.push(observer);
      break;
    }
    case 'offline': {
      staticSource = new StaticDefinitionsSource(options.offlineDefinitions!, () =>
        status.markLoaded(staticSource!.flagCount, null, Date.now()),
      );
      generation.changed(staticSource.getFlagDefinitions());
      cache = staticSource;
      fetch = offlineFetch;
      break;
    }
    case 'remote':
      logger.warn(
        'No secretKey and no redis: every flag evaluation is a request to PostHog. Set secretKey for local evaluation.',
      );
      observers.push(remoteStatusObserver(status));
      break;
  }

  const posthogOptions: PostHogOptions = {
    ...options.posthog,
    host: options.host,
    featureFlagsPollingInterval: options.pollingIntervalMs,
    fetch: observers.length > 0 ? observeFetch(fetch, observers) : fetch,
    flagDefinitionCacheProvider: cache,
    strictLocalEvaluation: options.mode !== 'remote' && options.onlyEvaluateLocally,
    secretKey:
      options.mode === 'shared' || options.mode === 'standalone' ? options.secretKey : undefined,
    personalApiKey: undefined,
  };
  const posthog = new PostHog(options.projectApiKey, posthogOptions);
  posthog.on('error', logOnce(logger, redactor, 'PostHog'));
  if (cache instanceof RedisFlagDefinitionCache) cache.bindClient(posthog);
  return new FlagsRuntime({
    options,
    status,
    generation,
    posthog,
    redactor,
    redis,
    cache,
    staticSource,
    unregisterMetrics,
  });
}

/** Remote mode is ready unless the last `/flags` call failed. */
function remoteStatusObserver(status: FlagsStatusTracker): FetchObserver {
  status.loaded = true;
  return {
    onRemoteFlagsResponse(ok) {
      status.loaded = ok;
      if (ok) {
        status.markVerified(Date.now());
        status.lastError = null;
      } else {
        status.lastError = 'PostHog remote evaluation (/flags) failed';
      }
    },
  };
}

/** Logs an error source's messages, each distinct message at most once a minute. */
function logOnce(logger: Logger, redactor: Redactor, source: string): (error: unknown) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const message = redactor.error(error);
    const now = Date.now();
    if ((lastLogged.get(message) ?? 0) > now - 60_000) return;
    if (lastLogged.size > 100) lastLogged.clear();
    lastLogged.set(message, now);
    logger.warn(`${source}: ${message}`);
  };
}
