import { sleep } from '../bounded.js';
import type { FlagsRedis, FlagsRedisSubscription } from './flags-redis.js';
import { normaliseReply, stringOrNull } from './normalise-reply.js';
import type { NodeRedisClientLike } from './redis-client-like.js';
import { isNoScript, scriptSha } from './script-sha.js';

type Listener = (message: unknown, channel: string) => void;
interface ScriptCall {
  keys: string[];
  arguments: Array<string | Buffer>;
}
/** `RESP_TYPES.BLOB_STRING` of node-redis 5 and 6 (RESP's `$`): mapped to Buffer, GET returns bytes. */
const BLOB_STRING = 36;

/** What the adapter calls on a node-redis client, cluster or Sentinel (5 and 6 share all of it). */
interface NodeRedisClient extends NodeRedisClientLike {
  /** A cluster has none: `isOpen` is all it tells. */
  readonly isReady?: boolean;
  evalSha(sha: string, call: ScriptCall): Promise<unknown>;
  eval(script: string, call: ScriptCall): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<unknown>;
  get(key: string): Promise<unknown>;
  strLen(key: string): Promise<unknown>;
  exists(key: string): Promise<unknown>;
  /** The same connection, replying in the given types (client, cluster and Sentinel alike). */
  withTypeMapping(mapping: Record<number, unknown>): NodeRedisClient;
  subscribe(channel: string, listener: Listener): Promise<unknown>;
  unsubscribe(channel: string, listener: Listener): Promise<unknown>;
  /** Client and cluster; a Sentinel has its own pub/sub connection instead. */
  duplicate?(): NodeRedisClient;
  close?(): Promise<unknown>;
  /** Before `close()` (node-redis 4). */
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** `FlagsRedis` over a node-redis client (`createClient`), cluster (`createCluster`) or Sentinel, RESP2 or RESP3. */
export class NodeRedisAdapter implements FlagsRedis {
  private readonly client: NodeRedisClient;
  /** The app's client as a view that replies in Buffers (made once; it shares the connection). */
  private binaryClient?: NodeRedisClient;

  constructor(client: NodeRedisClientLike) {
    this.client = client as NodeRedisClient;
  }

  async runScript(
    script: string,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    this.failFastWhileDown();
    // node-redis takes strings and Buffers only.
    const call = {
      keys: [...keys],
      arguments: args.map((a) => (Buffer.isBuffer(a) ? a : String(a))),
    };
    try {
      return normaliseReply(await this.client.evalSha(scriptSha(script), call));
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return normaliseReply(await this.client.eval(script, call));
    }
  }

  async hmget(key: string, fields: readonly string[]): Promise<Array<string | null>> {
    this.failFastWhileDown();
    const reply = await this.client.hmGet(key, [...fields]);
    return (reply as unknown[]).map(stringOrNull);
  }

  async get(key: string): Promise<string | null> {
    this.failFastWhileDown();
    return stringOrNull(await this.client.get(key));
  }

  async getBuffer(key: string): Promise<Buffer | null> {
    this.failFastWhileDown();
    this.binaryClient ??= this.client.withTypeMapping({ [BLOB_STRING]: Buffer });
    const reply = await this.binaryClient.get(key);
    if (reply === null || reply === undefined) return null;
    return Buffer.isBuffer(reply) ? reply : Buffer.from(reply as Uint8Array);
  }

  async strlen(key: string): Promise<number> {
    this.failFastWhileDown();
    return Number(await this.client.strLen(key));
  }

  async exists(key: string): Promise<number> {
    this.failFastWhileDown();
    return Number(await this.client.exists(key));
  }

  subscribe(channel: string, onMessage: (message: string) => void): FlagsRedisSubscription {
    const listener: Listener = (message) => onMessage(stringOrNull(message) ?? '');
    const client = this.client;
    if (typeof client.duplicate !== 'function') {
      // A Sentinel keeps a pub/sub connection of its own (and re-subscribes on failover).
      const ready = client.subscribe(channel, listener).then(() => undefined);
      ready.catch(() => undefined);
      const close = (timeoutMs: number) =>
        within(client.unsubscribe(channel, listener), timeoutMs).then(() => undefined);
      return { ready, close };
    }
    // A connection of our own: it waits out a Redis that is down and re-subscribes after
    // reconnects (node-redis keeps its listeners), and the app's client is left untouched.
    const subscriber = client.duplicate();
    subscriber.on('error', () => undefined); // the command client reports Redis trouble
    const ready = subscriber
      .connect()
      .then(() => subscriber.subscribe(channel, listener))
      .then(() => undefined);
    ready.catch(() => undefined);
    return { ready, close: (timeoutMs) => closeNodeRedis(subscriber, timeoutMs) };
  }

  async connect(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    const deadline = Date.now() + timeoutMs;
    let opening: Promise<unknown> | undefined;
    if (!client.isOpen) opening = client.connect().catch(() => undefined);
    // A cluster tells no readiness: its connect() resolves once the slots are known.
    if (client.isReady === undefined) {
      if (opening) await within(opening, timeoutMs);
      return client.isOpen;
    }
    // A refused connection errors at once; there is no point waiting out the timeout.
    let failed = false;
    const onError = () => (failed = true);
    client.on('error', onError);
    try {
      while (!client.isReady && client.isOpen && !failed && Date.now() < deadline) await sleep(20);
    } finally {
      client.off('error', onError);
    }
    return client.isReady;
  }

  close(timeoutMs: number): Promise<void> {
    return closeNodeRedis(this.client, timeoutMs);
  }

  /**
   * The app's client may queue commands while disconnected (node-redis' offline queue): a lease
   * call queued now would run late. Fail at once instead, as the module's own clients do.
   */
  private failFastWhileDown(): void {
    if (this.client.isReady === false) throw new Error('Redis connection is not ready');
  }

  onError(listener: (error: unknown) => void): void {
    this.client.on('error', listener);
    this.client.on('node-error', listener); // a cluster's node connections
  }
}

/** Closes gracefully within `timeoutMs`, then destroys the connection. */
async function closeNodeRedis(client: NodeRedisClient, timeoutMs: number): Promise<void> {
  if (!client.isOpen) return;
  const graceful = client.close ? client.close() : client.quit?.();
  await within(graceful ?? Promise.resolve(), timeoutMs);
  if (client.isOpen || client.isReady) {
    if (client.destroy) await client.destroy();
    else await client.disconnect?.();
  }
}

/** Waits for `promise` at most `ms`; never rejects. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
