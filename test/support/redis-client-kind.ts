/**
 * Which Redis client the app under test hands the module, so one spec runs per client kind:
 * `FLAGS_REDIS_CLIENT=module|ioredis5|ioredis6-resp2|ioredis6-resp3|node-redis5|node-redis6`.
 * `module` (the default) leaves the `redis` option as the spec wrote it (a URL, Sentinel or Cluster
 * the module opens with its own ioredis); every other kind replaces it with `{ client }`, a client
 * the app created from the same address, connected by the app and closed by the app after the
 * module is gone. Child processes inherit the variable (test/support/worker.ts reads it too).
 */
import type { PostHogFlagsModuleOptions, RedisConnection } from '../../src/index.js';

export const REDIS_CLIENT_KINDS = [
  'module',
  'ioredis5',
  'ioredis6-resp2',
  'ioredis6-resp3',
  'node-redis5',
  'node-redis6',
] as const;
export type RedisClientKind = (typeof REDIS_CLIENT_KINDS)[number];

/** The kind this run uses (`FLAGS_REDIS_CLIENT`, default `module`). */
export function redisClientKind(): RedisClientKind {
  const kind = (process.env.FLAGS_REDIS_CLIENT ?? 'module') as RedisClientKind;
  if (!REDIS_CLIENT_KINDS.includes(kind)) {
    throw new Error(`FLAGS_REDIS_CLIENT=${kind}: expected one of ${REDIS_CLIENT_KINDS.join(', ')}`);
  }
  return kind;
}

/** A client the app made, and how the app closes it. */
export interface AppRedisClient {
  kind: RedisClientKind;
  client: any;
  close: () => Promise<void>;
}

type Node = { host: string; port: number };
type Address =
  | { url: string }
  | { cluster: Node[] }
  | { sentinels: Node[]; name: string }
  | { host?: string; port?: number };

/** Creates (and starts connecting) a client of `kind` for what a `redis` option describes. */
export async function createAppRedisClient(
  connection: RedisConnection,
  kind: Exclude<RedisClientKind, 'module'>,
): Promise<AppRedisClient> {
  const address = addressOf(connection);
  if (kind.startsWith('node-redis')) {
    const lib: any = await loadClientLibrary(kind);
    const client: any =
      'url' in address
        ? lib.createClient({ url: address.url })
        : 'cluster' in address
          ? lib.createCluster({ rootNodes: address.cluster.map((socket: Node) => ({ socket })) })
          : 'sentinels' in address
            ? lib.createSentinel({ name: address.name, sentinelRootNodes: address.sentinels })
            : lib.createClient({ socket: address as Node });
    client.on('error', () => undefined); // an app listens; node-redis throws otherwise
    const connecting = client.connect().catch(() => undefined);
    // A cluster or Sentinel must know its topology before any command: the app waits for that
    // (bounded: a spec may start with Redis down). A plain client the module waits for itself.
    if (!('url' in address)) await Promise.race([connecting, sleep(3_000)]);
    return { kind, client, close: () => closeNodeRedis(client) };
  }
  const { Redis, Cluster }: any =
    kind === 'ioredis5' ? await import('ioredis') : await import('ioredis6');
  const protocol =
    kind === 'ioredis6-resp2'
      ? { protocol: 2 as const }
      : kind === 'ioredis6-resp3'
        ? { protocol: 3 as const, replyMapping: 'resp3' as const }
        : {};
  const client: any =
    'url' in address
      ? new Redis(address.url, protocol)
      : 'cluster' in address
        ? new Cluster(address.cluster, { redisOptions: protocol })
        : new Redis({ ...address, ...protocol });
  client.on('error', () => undefined);
  return {
    kind,
    client,
    close: async () => {
      await Promise.race([client.quit().catch(() => undefined), sleep(1_000)]);
      client.disconnect();
    },
  };
}

/**
 * The options with `redis` replaced by an app-made client of this run's kind (unchanged for
 * `module` or without `redis`), and how to close that client once the app is closed.
 */
export async function withAppRedisClient(
  options: PostHogFlagsModuleOptions,
  kind: RedisClientKind = redisClientKind(),
): Promise<{
  options: PostHogFlagsModuleOptions;
  client?: AppRedisClient;
  close(): Promise<void>;
}> {
  if (kind === 'module' || options.redis === undefined) {
    // A control app without Redis still loads the library, so boot times compare like for like.
    if (kind !== 'module') await loadClientLibrary(kind);
    return { options, close: () => Promise.resolve() };
  }
  const client = await createAppRedisClient(options.redis, kind);
  return { options: { ...options, redis: { client: client.client } }, client, close: client.close };
}

/** Loaded on demand: a worker's start-up time stays that of the kind it uses. */
function loadClientLibrary(kind: Exclude<RedisClientKind, 'module'>): Promise<unknown> {
  if (kind === 'node-redis5') return import('redis');
  if (kind === 'node-redis6') return import('redis6');
  return kind === 'ioredis5' ? import('ioredis') : import('ioredis6');
}

function addressOf(connection: RedisConnection): Address {
  if (typeof connection === 'string') return { url: connection };
  const shape = connection as Record<string, any>;
  if (shape.client) throw new Error('the spec already hands in a client');
  if (shape.cluster) {
    return {
      cluster: shape.cluster.map((node: Node | string) =>
        typeof node === 'string'
          ? { host: node.split(':')[0], port: Number(node.split(':')[1]) }
          : node,
      ),
    };
  }
  if (shape.sentinels) return { sentinels: shape.sentinels, name: shape.name };
  return { host: shape.host, port: shape.port };
}

async function closeNodeRedis(client: any): Promise<void> {
  if (!client.isOpen) return;
  await Promise.race([client.close().catch(() => undefined), sleep(1_000)]);
  if (client.isOpen) await client.destroy();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
