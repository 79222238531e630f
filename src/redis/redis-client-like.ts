/**
 * The client libraries the module accepts, described by shape rather than imported: an app that
 * uses only ioredis never needs `redis` installed, and one that uses only node-redis never needs
 * ioredis. Any copy or major of either fits (classes of two copies are distinct types to
 * TypeScript and to `instanceof`).
 */

/** An ioredis `Redis` or `Cluster`, 5 or 6. */
export interface IORedisClientLike {
  readonly status: string;
  readonly isCluster: boolean;
  duplicate(...args: never[]): unknown;
  evalsha(...args: never[]): Promise<unknown>;
  hmget(...args: never[]): Promise<unknown>;
}

/** A node-redis client, cluster or Sentinel (`redis` / `@redis/client` 5 or 6). */
export interface NodeRedisClientLike {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  evalSha(...args: never[]): Promise<unknown>;
  hmGet(...args: never[]): Promise<unknown>;
}

/** A client the app created and hands in as `{ client }`: ioredis or node-redis. */
export type SupportedRedisClient = IORedisClientLike | NodeRedisClientLike;

type Shape = Record<string, unknown> | null;

/** Whether a value is an ioredis `Redis` or `Cluster` (duck-typed: ioredis 5 and 6 are different classes). */
export function isIORedisClient(value: unknown): value is IORedisClientLike {
  const client = value as Shape;
  return (
    !!client &&
    typeof client.duplicate === 'function' &&
    typeof client.evalsha === 'function' &&
    typeof client.hmget === 'function' &&
    typeof client.status === 'string'
  );
}

/** Whether a value is a node-redis client, cluster or Sentinel (`createClient` / `createCluster` / `createSentinel`). */
export function isNodeRedisClient(value: unknown): value is NodeRedisClientLike {
  const client = value as Shape;
  return (
    !!client &&
    typeof client.isOpen === 'boolean' &&
    typeof client.connect === 'function' &&
    typeof client.evalSha === 'function' &&
    typeof client.hmGet === 'function'
  );
}
