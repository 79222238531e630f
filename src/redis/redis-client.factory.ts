import type { RedisOptions } from 'ioredis';
import type {
  RedisClusterConnection,
  RedisConnection,
  ExistingRedisClient,
} from '../posthog-flags-options.interface.js';
import type { FlagsRedis } from './flags-redis.js';
import { IORedisAdapter } from './ioredis-adapter.js';
import { loadIORedis } from './load-ioredis.js';
import { NodeRedisAdapter } from './node-redis-adapter.js';
import {
  isIORedisClient,
  isNodeRedisClient,
  type IORedisClientLike,
  type SupportedRedisClient,
} from './redis-client-like.js';
import { redisConnectionKind } from './redis-connection-options.js';

/** A client of a library the module accepts (ioredis or node-redis). */
export type RedisClient = SupportedRedisClient;

/** A Redis client, the module's view of it, and whether the module opened it (and so must close it). */
export interface RedisHandle {
  /** The client as the app knows it (`@InjectPostHogFlagsRedis()`). */
  client: RedisClient;
  redis: FlagsRedis;
  owned: boolean;
}

/** The module's view of a client the app hands in. Never reconfigures it. */
export function adaptRedisClient(client: unknown): FlagsRedis {
  if (isIORedisClient(client)) return new IORedisAdapter(client);
  if (isNodeRedisClient(client)) return new NodeRedisAdapter(client);
  throw new TypeError(
    'not a supported Redis client (expected an ioredis Redis or Cluster, or a node-redis client or cluster)',
  );
}

export interface RedisClientBounds {
  commandTimeoutMs: number;
}

/**
 * Options forced on every client the module opens: no offline queue (a command while disconnected
 * fails at once instead of waiting), a command timeout, and endless capped reconnects.
 */
function boundedOptions({ commandTimeoutMs }: RedisClientBounds): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1_000),
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2_000),
  };
}

/**
 * Opens (lazily) the client a `redis` option describes; an existing client is used as is. Loads
 * ioredis only to open one.
 */
export async function createRedisClient(
  connection: RedisConnection,
  bounds: RedisClientBounds,
): Promise<RedisHandle> {
  if (redisConnectionKind(connection) === 'client') {
    const { client } = connection as ExistingRedisClient;
    return { client, redis: adaptRedisClient(client), owned: false };
  }
  const { Cluster, Redis } = await loadIORedis();
  const bounded = boundedOptions(bounds);
  switch (redisConnectionKind(connection)) {
    case 'url':
      return owned(new Redis(connection as string, bounded));
    case 'cluster': {
      const { cluster, options = {} } = connection as RedisClusterConnection;
      const client = new Cluster(cluster, {
        ...options,
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: bounded.retryStrategy,
        redisOptions: { ...options.redisOptions, ...bounded, lazyConnect: undefined },
      });
      return owned(client);
    }
    default:
      return owned(new Redis({ ...(connection as RedisOptions), ...bounded }));
  }
}

function owned(client: IORedisClientLike): RedisHandle {
  return { client, redis: new IORedisAdapter(client), owned: true };
}
