/**
 * The Redis commands the module uses, and nothing more. Every client library it accepts (ioredis 5
 * and 6, node-redis 5 and 6, standalone or cluster) meets this through one adapter, so the lease
 * scripts, pub/sub and bounded commands are written once. Replies are normalised (strings,
 * numbers, arrays of them) whether the connection speaks RESP2 or RESP3.
 */
export interface FlagsRedis {
  /** Runs a Lua script by SHA, loading it on NOSCRIPT (after a restart or failover). */
  runScript(
    script: string,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown>;
  hmget(key: string, fields: readonly string[]): Promise<Array<string | null>>;
  get(key: string): Promise<string | null>;
  /** GET as bytes, unchanged (binary values must not go through a UTF-8 decode). */
  getBuffer(key: string): Promise<Buffer | null>;
  strlen(key: string): Promise<number>;
  exists(key: string): Promise<number>;
  /**
   * Listens on `channel` from a connection of its own (a subscribed connection can run nothing
   * else). It waits out a Redis that is down and re-subscribes after reconnects; close it to stop.
   */
  subscribe(channel: string, onMessage: (message: string) => void): FlagsRedisSubscription;
  /** Starts connecting; resolves whether it is ready within `timeoutMs`. Never rejects. */
  connect(timeoutMs: number): Promise<boolean>;
  /** Closes the connection within `timeoutMs`. Never rejects. Only for clients the module opened. */
  close(timeoutMs: number): Promise<void>;
  /** Reports connection errors (the client library's own `error` events). */
  onError(listener: (error: unknown) => void): void;
}

export interface FlagsRedisSubscription {
  /** Resolves once subscribed (rejects when the subscription cannot be made at all). */
  readonly ready: Promise<void>;
  close(timeoutMs: number): Promise<void>;
}
