import { isIORedisClient, isNodeRedisClient } from './redis-client-like.js';

export type RedisConnectionKind = 'url' | 'options' | 'sentinel' | 'cluster' | 'client';

/** Which of the accepted `redis` shapes a value is, or undefined for an unknown shape. */
export function redisConnectionKind(value: unknown): RedisConnectionKind | undefined {
  if (typeof value === 'string') return 'url';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const shape = value as Record<string, unknown>;
  if ('client' in shape) return 'client';
  if ('cluster' in shape) return 'cluster';
  if ('sentinels' in shape) return 'sentinel';
  if ('host' in shape || 'port' in shape || 'path' in shape) return 'options';
  return undefined;
}

/** Why a `redis` option is unusable, or undefined. Never echoes a URL: it may hold a password. */
export function validateRedisConnection(value: unknown): string | undefined {
  const kind = redisConnectionKind(value);
  const shape = value as Record<string, any>;
  switch (kind) {
    case 'url':
      return redisUrlProblem(value as string);
    case 'client': {
      const client = shape.client;
      return isIORedisClient(client) || isNodeRedisClient(client)
        ? undefined
        : '`client` must be an ioredis Redis or Cluster, or a node-redis client or cluster (createClient() / createCluster())';
    }
    case 'cluster':
      return Array.isArray(shape.cluster) && shape.cluster.length > 0
        ? undefined
        : '`cluster` must be a non-empty array of nodes ({ host, port } or "host:port")';
    case 'sentinel':
      if (!Array.isArray(shape.sentinels) || shape.sentinels.length === 0) {
        return '`sentinels` must be a non-empty array of { host, port }';
      }
      return typeof shape.name === 'string' && shape.name !== ''
        ? undefined
        : 'a Sentinel connection needs `name`, the monitored master name';
    case 'options':
      if (shape.port !== undefined && !isPort(shape.port)) {
        return '`port` must be an integer from 1 to 65535';
      }
      return undefined;
    default:
      return 'unknown shape: expected a redis:// or rediss:// URL, ioredis options ({ host, port, … }), { sentinels, name }, { cluster: nodes, options }, or { client }';
  }
}

function redisUrlProblem(url: string): string | undefined {
  const expected = 'expected redis://[[user]:password@]host[:port][/db] or rediss://…';
  if (!URL.canParse(url)) return `not a parseable Redis URL (${expected})`;
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return `unsupported URL scheme "${parsed.protocol}" (${expected})`;
  }
  if (!parsed.hostname) return `the URL has no host (${expected})`;
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return `the URL's database must be a number (${expected})`;
  return undefined;
}

function isPort(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}
