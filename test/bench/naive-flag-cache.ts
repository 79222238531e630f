import type { Redis } from 'ioredis';
import type {
  FlagDefinitionCacheData,
  FlagDefinitionCacheInput,
  FlagDefinitionCacheProvider,
} from 'posthog-node';

/**
 * The baseline: the Redis cache provider posthog-node's own documentation shows (the doc example
 * in `extensions/feature-flags/cache.ts`), as written there — `SET NX` lock before the fetch, `DEL`
 * after it (only on a 200: posthog-node calls nothing on a 304 or an error), data stored with a
 * TTL, unconditional `DEL` at shutdown. Its 60 s lock and 300 s data TTLs are meant for the SDK's
 * default 30 s interval; here they keep those ratios (2 and 10 intervals) at the bench's interval.
 */
export class NaiveFlagDefinitionCache implements FlagDefinitionCacheProvider<FlagDefinitionCacheInput> {
  private readonly dataKey: string;
  private readonly lockKey: string;

  constructor(
    private readonly redis: Redis,
    teamKey: string,
    private readonly pollingIntervalMs: number,
  ) {
    this.dataKey = `posthog:flags:${teamKey}`;
    this.lockKey = `posthog:flags:${teamKey}:lock`;
  }

  async getFlagDefinitions(): Promise<FlagDefinitionCacheInput | undefined> {
    const cached = await this.redis.get(this.dataKey);
    return cached ? (JSON.parse(cached) as FlagDefinitionCacheInput) : undefined;
  }

  async shouldFetchFlagDefinitions(): Promise<boolean> {
    const lockMs = 2 * this.pollingIntervalMs;
    return (await this.redis.set(this.lockKey, '1', 'PX', lockMs, 'NX')) === 'OK';
  }

  async onFlagDefinitionsReceived(data: FlagDefinitionCacheData): Promise<void> {
    await this.redis.set(this.dataKey, JSON.stringify(data), 'PX', 10 * this.pollingIntervalMs);
    await this.redis.del(this.lockKey);
  }

  async shutdown(): Promise<void> {
    await this.redis.del(this.lockKey);
  }
}
