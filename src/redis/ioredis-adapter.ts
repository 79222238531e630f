import type { Cluster, Redis } from 'ioredis';
import type { FlagsRedis, FlagsRedisSubscription } from './flags-redis.js';
import { isNoScript, scriptSha } from './script-sha.js';

export type IORedisClient = Redis | Cluster;

/** Whether a value is an ioredis `Redis` or `Cluster` (duck-typed: ioredis 5 and 6 are different classes). */
export function isIORedisClient(value: unknown): value is IORedisClient {
  const client = value as Record<string, unknown> | null;
  return (
    !!client &&
    typeof client.duplicate === 'function' &&
    typeof client.evalsha === 'function' &&
    typeof client.hmget === 'function' &&
    typeof client.status === 'string'
  );
}

/** `FlagsRedis` over an ioredis client (5 or 6, RESP2 or RESP3, standalone, Sentinel or Cluster). */
export class IORedisAdapter implements FlagsRedis {
  constructor(readonly client: IORedisClient) {}

  async runScript(
    script: string,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await this.client.evalsha(scriptSha(script), keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return this.client.eval(script, keys.length, ...keys, ...args);
    }
  }

  hmget(key: string, fields: readonly string[]): Promise<Array<string | null>> {
    return this.client.hmget(key, ...fields);
  }

  get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  strlen(key: string): Promise<number> {
    return this.client.strlen(key);
  }

  exists(key: string): Promise<number> {
    return this.client.exists(key);
  }

  subscribe(channel: string, onMessage: (message: string) => void): FlagsRedisSubscription {
    const subscriber = duplicateForPubSub(this.client);
    subscriber.on('error', () => undefined); // reconnects on its own; the command client reports Redis trouble
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) onMessage(message);
    });
    const ready = subscriber.subscribe(channel).then(() => undefined);
    ready.catch(() => undefined);
    return { ready, close: (timeoutMs) => closeIORedis(subscriber, timeoutMs) };
  }

  async connect(timeoutMs: number): Promise<boolean> {
    const client = this.client;
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

  close(timeoutMs: number): Promise<void> {
    return closeIORedis(this.client, timeoutMs);
  }

  onError(listener: (error: unknown) => void): void {
    this.client.on('error', listener);
  }
}

/**
 * A separate connection for pub/sub. The offline queue stays on here, without a retry limit: only
 * SUBSCRIBE is ever queued, and it must wait out a Redis that is down at boot; ioredis
 * re-subscribes after later reconnects.
 */
function duplicateForPubSub(client: IORedisClient): IORedisClient {
  // `isCluster`, not instanceof: an app's ioredis may be another copy or major than ours.
  if (client.isCluster) {
    const cluster = client as Cluster;
    return cluster.duplicate(undefined, {
      lazyConnect: true,
      enableOfflineQueue: true,
      redisOptions: {
        ...cluster.options.redisOptions,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
      },
    });
  }
  return (client as Redis).duplicate({
    lazyConnect: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  });
}

/** Closes a client within `timeoutMs` (QUIT, then a hard disconnect); resolves once it has ended. */
async function closeIORedis(client: IORedisClient, timeoutMs: number): Promise<void> {
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
