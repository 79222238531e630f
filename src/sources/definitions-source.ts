import type { Logger } from '@nestjs/common';
import type { FlagDefinitionCacheProvider, PostHog } from 'posthog-node';
import type { DefinitionsGeneration } from '../definitions-generation.js';
import type { FlagsStatusTracker } from '../flags-status.js';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';
import type { ResolvedPostHogFlagsOptions } from '../posthog-flags-options.resolve.js';
import type { FlagsRedis } from '../redis/flags-redis.js';
import {
  observeFetch,
  offlineFetch,
  type FetchObserver,
  type PostHogFetch,
} from './observed-fetch.js';
import { RemoteFlagsBreaker } from './remote-flags-breaker.js';
import { RedisFlagDefinitionCache } from './shared/redis-flag-definition-cache.js';
import { StandaloneDefinitionsObserver } from './standalone-definitions-observer.js';
import { StaticDefinitionsSource } from './static-definitions-source.js';

/**
 * Where this process's flag definitions come from: one implementation per mode. It gives
 * posthog-node its cache provider and `fetch`, owns the SDK's schedule once attached, and leaves
 * the lease protocol when shutdown begins.
 */
export interface DefinitionsSource {
  readonly mode: ResolvedPostHogFlagsOptions['mode'];
  /** The `flagDefinitionCacheProvider` for posthog-node (none in remote mode). */
  readonly cacheProvider?: FlagDefinitionCacheProvider;
  /** The `fetch` for posthog-node, observed or bounded as the mode needs. */
  wrapFetch(inner: PostHogFetch): PostHogFetch;
  /** The client exists: the source decides when it loads from now on. */
  attach(client: PostHog): void;
  /** Shutdown begins: lead and write nothing more. Never throws. */
  stepAside(): Promise<void>;
}

export interface SourceDeps {
  status: FlagsStatusTracker;
  generation: DefinitionsGeneration;
  logger: Logger;
  /** Shared and reader modes only. */
  redis?: FlagsRedis;
}

/** Shared (leader or follower) and reader modes: the Redis lease protocol. */
export class SharedDefinitionsSource implements DefinitionsSource {
  readonly cacheProvider: RedisFlagDefinitionCache;

  constructor(
    readonly mode: 'shared' | 'reader',
    options: ResolvedPostHogFlagsOptions,
    deps: SourceDeps,
  ) {
    this.cacheProvider = new RedisFlagDefinitionCache({
      redis: deps.redis!,
      projectApiKey: options.projectApiKey,
      keyPrefix: options.keyPrefix,
      pollingIntervalMs: options.pollingIntervalMs,
      leaseTtlMs: options.leaseTtlMs,
      // A live first leader's fetch ends within posthog-node's request timeout.
      coldLeaseTtlMs: (options.posthog.requestTimeout ?? 10_000) + 5_000,
      commandTimeoutMs: options.redisCommandTimeoutMs,
      leaderMaxFailures: options.leaderMaxFailures,
      canFetch: mode === 'shared',
      status: deps.status,
      generation: deps.generation,
      secrets: options.secretKey ? [options.secretKey] : [],
      logger: deps.logger,
    });
  }

  wrapFetch(inner: PostHogFetch): PostHogFetch {
    return this.cacheProvider.wrapFetch(inner);
  }

  attach(client: PostHog): void {
    this.cacheProvider.bindClient(client);
  }

  stepAside(): Promise<void> {
    return this.cacheProvider.stepAside();
  }
}

/** No Redis: this process polls PostHog alone, on the module's schedule. */
export class StandaloneDefinitionsSource implements DefinitionsSource {
  readonly mode = 'standalone';
  readonly cacheProvider: StandaloneDefinitionsObserver;

  constructor(options: ResolvedPostHogFlagsOptions, deps: SourceDeps) {
    this.cacheProvider = new StandaloneDefinitionsObserver(
      deps.status,
      deps.generation,
      options.pollingIntervalMs,
    );
  }

  wrapFetch(inner: PostHogFetch): PostHogFetch {
    return observeFetch(inner, [this.cacheProvider]);
  }

  attach(client: PostHog): void {
    this.cacheProvider.bindClient(client);
  }

  async stepAside(): Promise<void> {}
}

/** Definitions given in the options (or a file): no PostHog, no Redis. */
export class OfflineDefinitionsSource implements DefinitionsSource {
  readonly mode = 'offline';
  readonly cacheProvider: StaticDefinitionsSource;
  private readonly generation: DefinitionsGeneration;

  constructor(options: ResolvedPostHogFlagsOptions, deps: SourceDeps) {
    this.generation = deps.generation;
    const source: StaticDefinitionsSource = new StaticDefinitionsSource(
      options.offlineDefinitions!,
      () => deps.status.markLoaded(source.flagCount, null, Date.now()),
    );
    deps.generation.changed(source.getFlagDefinitions());
    this.cacheProvider = source;
  }

  wrapFetch(): PostHogFetch {
    return offlineFetch;
  }

  attach(): void {}

  async stepAside(): Promise<void> {}

  /** Replaces the definitions (the testing module): the client loads them at once. */
  async replace(client: PostHog, definitions: FlagDefinitions): Promise<void> {
    this.cacheProvider.replace(definitions);
    await client.reloadFeatureFlags();
    this.generation.changed(this.cacheProvider.getFlagDefinitions());
  }
}

/** No secret and no Redis: every evaluation is a bounded `/flags` call behind a breaker. */
export class RemoteDefinitionsSource implements DefinitionsSource {
  readonly mode = 'remote';
  readonly cacheProvider = undefined;
  private readonly breaker: RemoteFlagsBreaker;

  constructor(
    _options: ResolvedPostHogFlagsOptions,
    private readonly deps: SourceDeps,
  ) {
    this.breaker = new RemoteFlagsBreaker(deps.logger);
    deps.logger.warn(
      'No secretKey and no redis: every flag evaluation is a request to PostHog. Set secretKey for local evaluation.',
    );
  }

  wrapFetch(inner: PostHogFetch): PostHogFetch {
    return observeFetch(this.breaker.wrap(inner), [remoteStatusObserver(this.deps.status)]);
  }

  attach(): void {}

  async stepAside(): Promise<void> {}
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

export function createDefinitionsSource(
  options: ResolvedPostHogFlagsOptions,
  deps: SourceDeps,
): DefinitionsSource {
  switch (options.mode) {
    case 'shared':
    case 'reader':
      return new SharedDefinitionsSource(options.mode, options, deps);
    case 'standalone':
      return new StandaloneDefinitionsSource(options, deps);
    case 'offline':
      return new OfflineDefinitionsSource(options, deps);
    case 'remote':
      return new RemoteDefinitionsSource(options, deps);
  }
}
