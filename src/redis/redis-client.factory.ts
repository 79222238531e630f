import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type {
  RedisClusterConnection,
  RedisConnection,
  ExistingRedisClient,
} from '../posthog-flags-options.interface.js';
import { redisConnectionKind } from './redis-connection-options.js';

export type RedisClient = Redis | Cluster;

/** A Redis client and whether the module opened it (and so must close it). */
export interface RedisHandle {
  client: RedisClient;
  owned: boolean;
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

/** Opens (lazily) the client a `redis` option describes; an existing client is used as is. */
export function createRedisClient(
  connection: RedisConnection,
  bounds: RedisClientBounds,
): RedisHandle {
  const bounded = boundedOptions(bounds);
  switch (redisConnectionKind(connection)) {
    case 'client':
      return { client: (connection as ExistingRedisClient).client, owned: false };
    case 'url':
      return { client: new Redis(connection as string, bounded), owned: true };
    case 'cluster': {
      const { cluster, options = {} } = connection as RedisClusterConnection;
      const client = new Cluster(cluster, {
        ...options,
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: bounded.retryStrategy,
        redisOptions: { ...options.redisOptions, ...bounded, lazyConnect: undefined },
      });
      return { client, owned: true };
    }
    default:
      return { client: new Redis({ ...(connection as RedisOptions), ...bounded }), owned: true };
  }
}

/**
 * A separate connection for pub/sub (a subscribed connection can run nothing else). Always owned.
 * The offline queue stays on here, without a retry limit: only SUBSCRIBE is ever queued, and it
 * must wait out a Redis that is down at boot; ioredis re-subscribes after later reconnects.
 */
export function createSubscriber(client: RedisClient): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      lazyConnect: true,
      enableOfflineQueue: true,
      redisOptions: {
        ...client.options.redisOptions,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
      },
    });
  }
  return client.duplicate({
    lazyConnect: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  });
}

/** Starts connecting; resolves whether it is ready within `timeoutMs`. Never rejects. */
export async function connectWithin(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  let settle: (ready: boolean) => void = () => undefined;
  const settled = new Promise<boolean>((resolve) => (settle = resolve));
  const onReady = () => settle(true);
  // A refused connection errors at once; there is no point waiting out the timeout.
  const onError = () => settle(false);
  const timer = setTimeout(() => settle(false), timeoutMs);
  client.once('ready', onReady);
  client.once('error', onError);
  if (client.status === 'wait') client.connect().catch(() => settle(false));
  try {
    return await settled;
  } finally {
    clearTimeout(timer);
    client.off('ready', onReady);
    client.off('error', onError);
  }
}

/** Closes a client within `timeoutMs` (QUIT, then a hard disconnect); resolves once it has ended. Never rejects. */
export async function closeWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'end') return;
  // Between reconnect attempts there is no socket: disconnecting stops the retries, and no
  // 'end' event follows.
  const idle = client.status === 'reconnecting' || client.status === 'wait';
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'ready') client.quit().catch(() => client.disconnect());
  else client.disconnect();
  if (idle || (client.status as string) === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([ended, timedOut]);
  clearTimeout(timer);
  if ((client.status as string) !== 'end') {
    client.disconnect();
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
}
