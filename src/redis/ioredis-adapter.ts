import type { Cluster, Redis } from 'ioredis';
import type { FlagsRedis, FlagsRedisSubscription } from './flags-redis.js';
import { normaliseReply, stringOrNull } from './normalise-reply.js';
import type { IORedisClientLike } from './redis-client-like.js';
import { isNoScript, scriptSha } from './script-sha.js';

export { isIORedisClient } from './redis-client-like.js';

export type IORedisClient = Redis | Cluster;

/** `FlagsRedis` over an ioredis client (5 or 6, RESP2 or RESP3, standalone, Sentinel or Cluster). */
export class IORedisAdapter implements FlagsRedis {
  readonly client: IORedisClient;
  /** The connection failed or dropped and has not been ready since. */
  private down = false;

  constructor(client: IORedisClientLike) {
    this.client = client as unknown as IORedisClient;
    this.client.on('close', () => (this.down = true));
    this.client.on('ready', () => (this.down = false));
  }

  async runScript(
    script: string,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    this.failFastWhileDown();
    try {
      return normaliseReply(
        await this.client.evalsha(scriptSha(script), keys.length, ...keys, ...args),
      );
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return normaliseReply(await this.client.eval(script, keys.length, ...keys, ...args));
    }
  }

  async hmget(key: string, fields: readonly string[]): Promise<Array<string | null>> {
    this.failFastWhileDown();
    return (await this.client.hmget(key, ...fields)).map(stringOrNull);
  }

  async get(key: string): Promise<string | null> {
    this.failFastWhileDown();
    return stringOrNull(await this.client.get(key));
  }

  async getBuffer(key: string): Promise<Buffer | null> {
    this.failFastWhileDown();
    return this.client.getBuffer(key);
  }

  // Number(): `stringNumbers: true` makes ioredis return integers as strings.
  async strlen(key: string): Promise<number> {
    this.failFastWhileDown();
    return Number(await this.client.strlen(key));
  }

  async exists(key: string): Promise<number> {
    this.failFastWhileDown();
    return Number(await this.client.exists(key));
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
    // An app's client between attempts: Redis refused or dropped it just now. Known at once.
    if (client.status === 'reconnecting') {
      this.down = true;
      return false;
    }
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
      const ready = await settled;
      // Still connecting (a slow network, or a boot starved of CPU): commands wait for the
      // connection within their own bound instead of failing at once.
      const stillConnecting = client.status === 'connecting' || client.status === 'connect';
      this.down = !ready && !stillConnecting;
      return ready;
    } finally {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    }
  }

  close(timeoutMs: number): Promise<void> {
    return closeIORedis(this.client, timeoutMs);
  }

  /**
   * An app's client may queue commands while disconnected (ioredis' offline queue): a lease call
   * queued now would run late. Fail at once instead, as the module's own clients do.
   */
  private failFastWhileDown(): void {
    const status = this.client.status;
    if (status !== 'ready' && (this.down || status === 'reconnecting' || status === 'end')) {
      throw new Error(`Redis connection is not ready (${status})`);
    }
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
