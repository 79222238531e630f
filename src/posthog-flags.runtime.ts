import { Logger } from '@nestjs/common';
import { PostHog, type FlagDefinitionCacheProvider, type PostHogOptions } from 'posthog-node';
import { createDefinitionsSource, type DefinitionsSource } from './sources/definitions-source.js';
import type { PostHogFetch } from './sources/observed-fetch.js';
import { DefinitionsGeneration } from './definitions-generation.js';
import { FlagsStatusTracker, type FlagsRole } from './flags-status.js';
import type { ResolvedPostHogFlagsOptions } from './posthog-flags-options.resolve.js';
import { registerMetrics } from './metrics/posthog-flags.metrics.js';
import { registerOpenTelemetryMetrics } from './metrics/posthog-flags.otel-metrics.js';
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
  source: DefinitionsSource;
  /** Removes this runtime's Prometheus metrics and OpenTelemetry callbacks (when on). */
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
  /** Where definitions come from (one implementation per mode). */
  readonly source: DefinitionsSource;
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
    this.source = parts.source;
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
  stepAside(): Promise<void> {
    return this.source.stepAside();
  }

  /** posthog-node's cache provider (none in remote mode). */
  get cache(): FlagDefinitionCacheProvider | undefined {
    return this.source.cacheProvider;
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
  const unregisterProm = options.metrics
    ? await registerMetrics(status, options.metrics)
    : undefined;
  const unregisterOpenTelemetry = options.openTelemetry
    ? await registerOpenTelemetryMetrics(status, options.openTelemetry)
    : undefined;
  const unregisterMetrics =
    unregisterProm || unregisterOpenTelemetry
      ? () => {
          unregisterProm?.();
          unregisterOpenTelemetry?.();
        }
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

  const source = createDefinitionsSource(options, {
    status,
    generation,
    logger,
    redis: redis?.redis,
  });
  const fetch = source.wrapFetch(
    options.posthog.fetch ?? (globalThis.fetch as unknown as PostHogFetch),
  );

  const posthogOptions: PostHogOptions = {
    ...options.posthog,
    host: options.host,
    // The module owns the schedule: the SDK loads only when a definitions source asks it to.
    featureFlagsPollingInterval: null,
    fetch,
    flagDefinitionCacheProvider: source.cacheProvider,
    strictLocalEvaluation: options.mode !== 'remote' && options.onlyEvaluateLocally,
    secretKey:
      options.mode === 'shared' || options.mode === 'standalone' ? options.secretKey : undefined,
    personalApiKey: undefined,
    // Remote evaluation sits on the request path: a short bound, and no retry after a delay.
    ...(options.mode === 'remote' && {
      featureFlagsRequestTimeoutMs: options.posthog.featureFlagsRequestTimeoutMs ?? 1_000,
      featureFlagsRequestMaxRetries: options.posthog.featureFlagsRequestMaxRetries ?? 0,
    }),
  };
  const posthog = new PostHog(options.projectApiKey, posthogOptions);
  posthog.on('error', logOnce(logger, redactor, 'PostHog'));
  source.attach(posthog);
  return new FlagsRuntime({
    options,
    status,
    generation,
    posthog,
    redactor,
    redis,
    source,
    unregisterMetrics,
  });
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
