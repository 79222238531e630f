import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { brotliCompressSync, constants } from 'node:zlib';
import { Redis } from 'ioredis';
import type { FlagDefinitionCacheData } from 'posthog-node';
import { sharedTestRedis } from '../../../test/support/redis-server.js';
import { readStoredDefinitions } from '../../../test/support/stored-definitions.js';
import { sleep } from '../../bounded.js';
import { cacheKeys, type CacheKeys } from './cache-keys.js';
import { contentHash, encodeEnvelope } from './definitions-envelope.js';
import {
  RedisFlagDefinitionCache,
  type RedisFlagDefinitionCacheOptions,
} from './redis-flag-definition-cache.js';

const flag = (key: string) => ({
  id: 1,
  key,
  active: true,
  filters: { groups: [{ properties: [], rollout_percentage: 100 }] },
});
const definitions = (...keys: string[]): FlagDefinitionCacheData =>
  ({
    flags: keys.map(flag),
    groupTypeMapping: {},
    cohorts: {},
  }) as unknown as FlagDefinitionCacheData;

describe('RedisFlagDefinitionCache (real Redis)', () => {
  let server: { url: string; stop(): Promise<void> };
  let redis: Redis;
  const caches: RedisFlagDefinitionCache[] = [];

  beforeAll(async () => {
    server = await sharedTestRedis();
    redis = new Redis(server.url);
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.shutdown()));
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** A fresh project (and key prefix) per test, so tests never see each other's keys. */
  function project(): { projectApiKey: string; keyPrefix: string } {
    return { projectApiKey: `phc_${randomUUID()}`, keyPrefix: `test:${randomUUID().slice(0, 8)}` };
  }

  function cache(
    scope: { projectApiKey: string; keyPrefix: string },
    options: Partial<RedisFlagDefinitionCacheOptions> = {},
  ): RedisFlagDefinitionCache {
    const created = new RedisFlagDefinitionCache({
      redis,
      ...scope,
      pollingIntervalMs: 100,
      leaseTtlMs: 300,
      // These caches start on an empty Redis: the lease TTL, not the 15 s cold lease, is under test.
      coldLeaseTtlMs: 300,
      coldStartWaitMs: 50,
      subscriber: false,
      logger: { log() {}, warn() {}, error() {} },
      ...options,
    });
    caches.push(created);
    return created;
  }

  describe('lease', () => {
    it('is taken by one process, renewed by its holder, and refused to a second', async () => {
      const scope = project();
      const a = cache(scope);
      const b = cache(scope);
      expect(await a.shouldFetchFlagDefinitions()).toBe(true);
      expect(await redis.get(a.keys.lease)).toBe(a.instanceId);

      await sleep(200);
      expect(await a.shouldFetchFlagDefinitions()).toBe(true); // renewed: PTTL back near the full TTL
      expect(await redis.pttl(a.keys.lease)).toBeGreaterThan(200);

      expect(await b.shouldFetchFlagDefinitions()).toBe(false);
      expect(await redis.get(a.keys.lease)).toBe(a.instanceId);
      expect(a.status.role).toBe('leader');
      expect(b.status.role).toBe('follower');
    });

    it('lets another process lead once the holder stops renewing', async () => {
      const scope = project();
      const a = cache(scope);
      const b = cache(scope);
      expect(await a.shouldFetchFlagDefinitions()).toBe(true);
      await sleep(400); // lease TTL is 300 ms
      expect(await b.shouldFetchFlagDefinitions()).toBe(true);
      expect(await redis.get(b.keys.lease)).toBe(b.instanceId);
    });

    it.each([
      ['a value with no expiry', async (lease: string) => void (await redis.set(lease, 'x:1:ab'))],
      [
        'an oversized value',
        async (lease: string) => void (await redis.set(lease, 'x'.repeat(300), 'PX', 60_000)),
      ],
    ])('treats %s in the lease key as free', async (_name, plant) => {
      const scope = project();
      const a = cache(scope);
      await plant(a.keys.lease);
      expect(await a.shouldFetchFlagDefinitions()).toBe(true);
      expect(await redis.get(a.keys.lease)).toBe(a.instanceId);
      expect(await redis.pttl(a.keys.lease)).toBeGreaterThan(0);
    });

    it('is released by compare-and-delete: never another process’s lease', async () => {
      const scope = project();
      const a = cache(scope);
      const b = cache(scope);
      await a.shouldFetchFlagDefinitions();
      await sleep(400);
      await b.shouldFetchFlagDefinitions(); // b now holds it
      expect(await a.releaseLease()).toBe(false);
      expect(await redis.get(b.keys.lease)).toBe(b.instanceId);
      expect(await b.releaseLease()).toBe(true);
      expect(await redis.exists(b.keys.lease)).toBe(0);
    });

    it('is released on shutdown, so the next process leads on its next poll', async () => {
      const scope = project();
      const a = cache(scope);
      const b = cache(scope);
      await a.shouldFetchFlagDefinitions();
      await a.shutdown();
      expect(await redis.exists(a.keys.lease)).toBe(0);
      expect(await b.shouldFetchFlagDefinitions()).toBe(true);
    });
  });

  describe('fenced writes', () => {
    it('a leader whose lease was taken over cannot write definitions or meta', async () => {
      const scope = project();
      const stale = cache(scope);
      const fresh = cache(scope);
      await stale.shouldFetchFlagDefinitions();
      await sleep(400); // stale stalls past its lease
      await fresh.shouldFetchFlagDefinitions();
      await fresh.onFlagDefinitionsReceived(definitions('new'));
      const metaBefore = await redis.hgetall(fresh.keys.meta);

      await stale.onFlagDefinitionsReceived(definitions('old'));

      const stored = (await readStoredDefinitions(redis, fresh.keys))!;
      expect(stored.data.flags.map((f) => f.key)).toEqual(['new']);
      expect(await redis.hgetall(fresh.keys.meta)).toEqual(metaBefore);
      expect(stale.status.role).toBe('follower');
    });

    it('writes nothing and takes no lease after shutdown', async () => {
      const scope = project();
      const a = cache(scope);
      await a.shouldFetchFlagDefinitions();
      await a.shutdown();
      await a.onFlagDefinitionsReceived(definitions('late'));
      expect(await redis.exists(...Object.values(a.keys))).toBe(0);
      expect(await a.shouldFetchFlagDefinitions()).toBe(false);
      expect(await redis.exists(a.keys.lease)).toBe(0);
    });
  });

  describe('follower reads', () => {
    it('reads meta first and hands back the already-parsed copy while the hash is unchanged', async () => {
      const scope = project();
      const leader = cache(scope);
      const follower = cache(scope);
      const reads: string[] = [];
      follower.status.onEvent((event, value) => {
        if (event === 'followerRead') reads.push(value as string);
      });
      await leader.shouldFetchFlagDefinitions();
      await leader.onFlagDefinitionsReceived(definitions('a', 'b'));

      const first = await follower.getFlagDefinitions();
      const second = await follower.getFlagDefinitions();
      expect(first?.flags.map((f) => f.key)).toEqual(['a', 'b']);
      expect(second).toBe(first);
      expect(reads).toEqual(['full', 'unchanged']);

      await leader.onFlagDefinitionsReceived(definitions('a', 'b', 'c'));
      expect((await follower.getFlagDefinitions())?.flags).toHaveLength(3);
      expect(reads).toEqual(['full', 'unchanged', 'full']);
    });

    it('honours a published empty set, which is not the same as nothing published', async () => {
      const scope = project();
      const leader = cache(scope);
      const follower = cache(scope);
      expect(await follower.getFlagDefinitions()).toBeUndefined();
      await leader.shouldFetchFlagDefinitions();
      await leader.onFlagDefinitionsReceived(definitions());
      const read = await follower.getFlagDefinitions();
      expect(read).toBeDefined();
      expect(read?.flags).toEqual([]);
      expect(follower.status.snapshot()).toMatchObject({ ready: true, flagCount: 0 });
    });

    it.each([
      ['not JSON', () => '{"v":1,"hash":', undefined],
      ['a wrong schema version', (hash: string) => envelopeWith({ v: 99, hash }), undefined],
      ['flags missing', (hash: string) => envelopeWith({ hash, data: { cohorts: {} } }), undefined],
      [
        'flags not an array',
        (hash: string) => envelopeWith({ hash, data: { flags: {} } }),
        undefined,
      ],
      [
        'content not matching its hash',
        (hash: string) => envelopeWith({ hash, data: { flags: [flag('x')] } }),
        undefined,
      ],
      [
        'a hash not matching meta',
        () => encodeEnvelope(definitions('x'), 1).json,
        'ffffffffffffffff',
      ],
    ])('ignores and reports stored definitions with %s', async (_name, stored, metaHash) => {
      const scope = project();
      const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
      const good = encodeEnvelope(definitions('good'), Date.now());
      const follower = cache(scope);
      await plant(keys, good);
      await redis.hset(keys.meta, { h: good.hash, f: Date.now(), v: Date.now(), l: 'someone' });
      expect((await follower.getFlagDefinitions())?.flags.map((f) => f.key)).toEqual(['good']);

      const badHash = metaHash ?? 'abababababababab';
      await redis.set(keys.definitions, stored(badHash));
      await redis.hset(keys.meta, 'h', badHash);
      expect(await follower.getFlagDefinitions()).toBeUndefined();
      expect(follower.status.lastError).toMatch(/ignored the definitions in Redis/);
      expect(follower.currentHash).toBe(good.hash); // the SDK keeps its last good copy
    });
  });

  /** Both copies, as a leader of this release writes them. */
  async function plant(keys: CacheKeys, copies: { json: string; compressed: Buffer }) {
    await redis.set(keys.definitions, copies.json);
    await redis.set(keys.definitionsCompressed, copies.compressed);
  }

  describe('envelope versions', () => {
    /** Planted as a leader would write it, announced in meta; what the follower then holds. */
    async function followerReading(copies: { json?: string; compressed?: Buffer }, hash: string) {
      const scope = project();
      const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
      if (copies.json) await redis.set(keys.definitions, copies.json);
      if (copies.compressed) await redis.set(keys.definitionsCompressed, copies.compressed);
      await redis.hset(keys.meta, { h: hash, f: Date.now(), v: Date.now(), l: 'someone' });
      const follower = cache(scope);
      const read = await follower.getFlagDefinitions();
      return { follower, keys: read?.flags.map((f) => f.key) };
    }

    it('writes a compressed copy, far smaller than its JSON, that a follower reads', async () => {
      const scope = project();
      const leader = cache(scope);
      const follower = cache(scope);
      const keys = Array.from({ length: 500 }, (_, i) => `flag-${i}`);
      await leader.shouldFetchFlagDefinitions();
      await leader.onFlagDefinitionsReceived(definitions(...keys));
      const storedBytes = await redis.strlen(leader.keys.definitionsCompressed);
      expect(storedBytes * 5).toBeLessThan(JSON.stringify(definitions(...keys)).length);
      expect(await redis.getrange(leader.keys.definitionsCompressed, 0, 6)).toBe('{"v":2,');
      // The JSON copy too, with the same content hash: the previous release reads that one.
      const json = JSON.parse((await redis.get(leader.keys.definitions))!);
      expect(json).toMatchObject({ v: 1, hash: await redis.hget(leader.keys.meta, 'h') });
      expect((await follower.getFlagDefinitions())?.flags.map((f) => f.key)).toEqual(keys);
    });

    it('reads a version 1 copy (plain JSON, as the previous release writes it)', async () => {
      const json = JSON.stringify(definitions('from-v1'));
      const hash = contentHash(json);
      const v1 = `{"v":1,"hash":"${hash}","fetchedAt":${Date.now()},"data":${json}}`;
      const { follower, keys } = await followerReading({ json: v1 }, hash);
      expect(keys).toEqual(['from-v1']);
      expect(follower.status.lastError).toBeNull();
    });

    it('reads the JSON copy when the compressed one holds other content (a previous-release leader wrote only JSON)', async () => {
      const older = encodeEnvelope(definitions('older'), Date.now());
      const newer = encodeEnvelope(definitions('newer'), Date.now());
      const { follower, keys } = await followerReading(
        { json: newer.json, compressed: older.compressed },
        newer.hash,
      );
      expect(keys).toEqual(['newer']);
      expect(follower.status.lastError).toBeNull();
    });

    it('takes over a copy a previous-release leader wrote (JSON only) by rewriting both copies once', async () => {
      const scope = project();
      const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
      const first = cache(scope);
      await first.shouldFetchFlagDefinitions();
      await first.onFlagDefinitionsReceived(definitions('a'));
      // The previous release leads next and writes new content: the JSON copy and meta only.
      const older = encodeEnvelope(definitions('b'), Date.now());
      await redis.set(keys.definitions, older.json);
      await redis.hset(keys.meta, 'h', older.hash);
      const next = cache(scope);
      expect((await next.getFlagDefinitions())?.flags.map((f) => f.key)).toEqual(['b']);

      await sleep(400); // the first leader's lease lapses; `next` leads
      expect(await next.shouldFetchFlagDefinitions()).toBe(true);
      const headers = () => ({ 'If-None-Match': '"etag"' });
      const request = headers();
      next.beforeDefinitionsRequest(request);
      expect(request).toEqual({}); // out of step: a full answer, so both copies are rewritten
      await next.onFlagDefinitionsReceived(definitions('b'));
      expect(await redis.hget(keys.meta, 'z')).toBe(older.hash);
      expect((await readStoredDefinitions(redis, keys))?.data.flags.map((f) => f.key)).toEqual([
        'b',
      ]);
      expect(await next.shouldFetchFlagDefinitions()).toBe(true);
      const again = headers();
      next.beforeDefinitionsRequest(again);
      expect(again).toEqual(headers()); // in step: 304s from here on
    });

    it('rejects a compressed copy whose stored bytes do not match its hash', async () => {
      const good = encodeEnvelope(definitions('good'), Date.now());
      const tampered = Buffer.from(good.compressed);
      tampered[tampered.length - 1] ^= 0xff;
      const { follower, keys } = await followerReading({ compressed: tampered }, good.hash);
      expect(keys).toBeUndefined();
      expect(follower.status.lastError).toMatch(/do not match their content hash/);
    });

    it('rejects a small compressed copy that would inflate past the size cap, without inflating it', async () => {
      const bomb = brotliCompressSync(Buffer.alloc(65 * 1024 * 1024, 0x20), {
        params: { [constants.BROTLI_PARAM_QUALITY]: 1 },
      });
      const hash = contentHash(bomb);
      const header = `{"v":2,"hash":"${hash}","body":"${hash}","fetchedAt":${Date.now()},"codec":"br"}\n`;
      const stored = Buffer.concat([Buffer.from(header), bomb]);
      expect(stored.length).toBeLessThan(100_000);
      const { follower, keys } = await followerReading({ compressed: stored }, hash);
      expect(keys).toBeUndefined();
      expect(follower.status.lastError).toMatch(/inflate past 67108864 bytes/);
    });

    it('never decodes a compressed copy of a later, unknown version: reads the JSON copy beside it', async () => {
      const good = encodeEnvelope(definitions('good'), Date.now());
      const later = Buffer.from(
        good.compressed.toString('latin1').replace('{"v":2,', '{"v":3,'),
        'latin1',
      );
      const alone = await followerReading({ compressed: later }, good.hash);
      expect(alone.keys).toBeUndefined(); // nothing this release can read: keeps what it holds
      const beside = await followerReading({ json: good.json, compressed: later }, good.hash);
      expect(beside.keys).toEqual(['good']);
    });
  });

  it('does not read a rejected copy again until meta announces another hash', async () => {
    const scope = project();
    const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
    const follower = cache(scope);
    const reads: string[] = [];
    follower.status.onEvent((event, value) => {
      if (event === 'followerRead') reads.push(value as string);
    });
    await redis.set(keys.definitions, '{"v":1,"hash":');
    await redis.hset(keys.meta, { h: 'abababababababab', v: Date.now() });
    expect(await follower.getFlagDefinitions()).toBeUndefined();
    expect(await follower.getFlagDefinitions()).toBeUndefined();
    expect(reads).toEqual(['invalid']); // the second read stopped at meta
    const good = encodeEnvelope(definitions('fixed'), Date.now());
    await plant(keys, good);
    await redis.hset(keys.meta, 'h', good.hash);
    expect((await follower.getFlagDefinitions())?.flags.map((f) => f.key)).toEqual(['fixed']);
  });

  it('ignores meta whose fields are not what the leader writes (hash format, leader length)', async () => {
    const scope = project();
    const keys = cacheKeys(scope.keyPrefix, scope.projectApiKey);
    const good = encodeEnvelope(definitions('good'), Date.now());
    const follower = cache(scope);
    await plant(keys, good);
    await redis.hset(keys.meta, { h: 'x'.repeat(5_000), v: Date.now(), l: 'someone' });
    expect(await follower.getFlagDefinitions()).toBeUndefined();
    await redis.hset(keys.meta, { h: good.hash, l: 'y'.repeat(5_000) });
    expect((await follower.getFlagDefinitions())?.flags.map((f) => f.key)).toEqual(['good']);
    expect(follower.status.leader).toBeNull();
  });

  it('keeps two projects on one Redis apart', async () => {
    const prefix = `test:${randomUUID().slice(0, 8)}`;
    const one = cache({ projectApiKey: 'phc_project_one', keyPrefix: prefix });
    const two = cache({ projectApiKey: 'phc_project_two', keyPrefix: prefix });
    expect(one.keys.definitions).not.toBe(two.keys.definitions);
    await one.shouldFetchFlagDefinitions();
    expect(await two.shouldFetchFlagDefinitions()).toBe(true); // its own lease
    await one.onFlagDefinitionsReceived(definitions('one-only'));
    expect(await two.getFlagDefinitions()).toBeUndefined();
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.some((k) => k.includes('phc_project'))).toBe(false); // keys hold a fingerprint only
    // Every key of one project shares its hash tag (one Cluster slot).
    const tags = new Set(Object.values(one.keys).map((k) => /\{[^}]+\}/.exec(k)![0]));
    expect(tags.size).toBe(1);
  });
});

function envelopeWith(fields: Record<string, unknown>): string {
  return JSON.stringify({ v: 1, fetchedAt: Date.now(), data: { flags: [] }, ...fields });
}
