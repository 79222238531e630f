import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { createClient, createCluster } from 'redis';
import { createClient as createClient6 } from 'redis6';
import type { PostHogFlagsModuleOptions } from './posthog-flags-options.interface.js';
import { PostHogFlagsOptionsError, resolveOptions } from './posthog-flags-options.resolve.js';

const SECRET = 'phs_super_secret_value_123';
const base: PostHogFlagsModuleOptions = { projectApiKey: 'phc_project', secretKey: SECRET };

function problemOf(overrides: Record<string, unknown>): string {
  const attempt = () => resolveOptions({ ...base, ...overrides } as PostHogFlagsModuleOptions);
  expect(attempt).toThrow(PostHogFlagsOptionsError);
  let message = '';
  try {
    attempt();
  } catch (error) {
    message = (error as Error).message;
  }
  return message;
}

const badJsonFile = join(mkdtempSync(join(tmpdir(), 'flags-')), 'bad.json');
writeFileSync(badJsonFile, '{ not json');

describe('resolveOptions', () => {
  it.each([
    ['missing projectApiKey', { projectApiKey: undefined }, /projectApiKey is required/],
    ['empty projectApiKey', { projectApiKey: '  ' }, /projectApiKey must be a non-empty string/],
    [
      'non-string projectApiKey',
      { projectApiKey: 42 },
      /projectApiKey must be a non-empty string \(got 42\)/,
    ],
    ['empty secretKey', { secretKey: '' }, /secretKey must be a non-empty string/],
    ['project key as secret', { secretKey: 'phc_oops' }, /secretKey looks like a project API key/],
    [
      'two different aliases',
      { personalApiKey: 'phx_other' },
      /secretKey and personalApiKey are aliases/,
    ],
    ['bad host', { host: 'not a url' }, /host must be an http\(s\) URL/],
    ['ftp host', { host: 'ftp://x.example' }, /host must be an http\(s\) URL/],
    [
      'negative interval',
      { pollingIntervalMs: -1 },
      /pollingIntervalMs must be an integer ≥ 100 \(got -1\)/,
    ],
    ['fractional interval', { pollingIntervalMs: 150.5 }, /pollingIntervalMs must be an integer/],
    [
      'interval below the SDK minimum',
      { pollingIntervalMs: 50 },
      /pollingIntervalMs must be an integer ≥ 100/,
    ],
    [
      'string interval',
      { pollingIntervalMs: '30000' },
      /pollingIntervalMs must be an integer ≥ 100 \(got "30000"\)/,
    ],
    [
      'lease not longer than interval',
      { pollingIntervalMs: 1000, leaseTtlMs: 1000 },
      /leaseTtlMs must be longer than pollingIntervalMs/,
    ],
    ['zero lease', { leaseTtlMs: 0 }, /leaseTtlMs must be an integer ≥ 1/],
    [
      'maxAge not longer than interval',
      { pollingIntervalMs: 1000, maxAgeMs: 500 },
      /maxAgeMs must be longer than pollingIntervalMs/,
    ],
    [
      'zero command timeout',
      { redisCommandTimeoutMs: 0 },
      /redisCommandTimeoutMs must be an integer ≥ 1/,
    ],
    [
      'zero leaderMaxFailures',
      { leaderMaxFailures: 0 },
      /leaderMaxFailures must be an integer ≥ 1/,
    ],
    [
      'unparseable redis URL',
      { redis: 'redis://' },
      /redis: .*(not a parseable Redis URL|no host)/,
    ],
    ['http redis URL', { redis: 'http://localhost:6379' }, /redis: unsupported URL scheme "http:"/],
    [
      'non-numeric redis db',
      { redis: 'redis://localhost:6379/abc' },
      /redis: the URL's database must be a number/,
    ],
    ['unknown redis shape', { redis: { foo: 1 } }, /redis: unknown shape/],
    ['redis as a number', { redis: 6379 }, /redis: unknown shape/],
    [
      'bad redis port',
      { redis: { host: 'localhost', port: 70000 } },
      /redis: `port` must be an integer/,
    ],
    ['empty cluster', { redis: { cluster: [] } }, /redis: `cluster` must be a non-empty array/],
    ['sentinel without name', { redis: { sentinels: [{ host: 'h', port: 1 }] } }, /needs `name`/],
    [
      'client that is neither ioredis nor node-redis',
      { redis: { client: { get() {}, connect() {} } } },
      /`client` must be an ioredis Redis or Cluster, or a node-redis client or cluster/,
    ],
    [
      'keyPrefix with braces',
      { keyPrefix: 'a{b}' },
      /keyPrefix must be a non-empty string without braces/,
    ],
    ['distinctId not a function', { distinctId: 'user.id' }, /distinctId must be a function/],
    ['groups not a function', { groups: { company: 'x' } }, /groups must be a function/],
    [
      'onMissingDistinctId unknown',
      { onMissingDistinctId: 'allow' },
      /onMissingDistinctId must be one of 'deny', 'anonymous'/,
    ],
    ['deniedStatus 500', { deniedStatus: 500 }, /deniedStatus must be 404, 403 or a function/],
    [
      'guard not a guard class',
      { guard: class NotAGuard {} },
      /guard must be a class extending FeatureFlagGuard/,
    ],
    [
      'onlyEvaluateLocally string',
      { onlyEvaluateLocally: 'yes' },
      /onlyEvaluateLocally must be a boolean/,
    ],
    ['posthog not an object', { posthog: 'x' }, /posthog must be an object/],
    ['maxPropertyLength 0', { maxPropertyLength: 0 }, /maxPropertyLength must be an integer ≥ 1/],
    [
      'maxDistinctIdLength not a number',
      { maxDistinctIdLength: '200' },
      /maxDistinctIdLength must be an integer ≥ 1/,
    ],
    [
      'evaluationCacheMaxBytes negative',
      { evaluationCacheMaxBytes: -1 },
      /evaluationCacheMaxBytes must be an integer ≥ 0/,
    ],
    [
      'definitions shorthand with a number',
      { secretKey: undefined, definitions: { 'new-checkout': 1 } },
      /definitions: flag "new-checkout" must be true, false, a variant key or \{ value, payload \} \(got 1\)/,
    ],
    [
      'definitions shorthand with an empty variant',
      { secretKey: undefined, definitions: { pricing: { value: '', payload: {} } } },
      /definitions: flag "pricing" must be .* \(got an object without a boolean or variant `value`\)/,
    ],
    [
      'definitions an array',
      { secretKey: undefined, definitions: [] },
      /definitions: must be an object/,
    ],
    [
      'definitions flag without key',
      { secretKey: undefined, definitions: { flags: [{}] } },
      /flags\[0\] must be an object with a string `key`/,
    ],
    [
      'missing definitions file',
      { secretKey: undefined, definitionsFile: '/nope/flags.json' },
      /definitionsFile \/nope\/flags.json: ENOENT/,
    ],
    [
      'definitions file not JSON',
      { secretKey: undefined, definitionsFile: badJsonFile },
      /definitionsFile .*bad.json: .*JSON/,
    ],
    [
      'offline plus redis',
      { definitions: { flags: [] }, redis: 'redis://localhost' },
      /cannot be combined with redis or secretKey/,
    ],
  ])('%s fails naming the option', (_name, overrides, expected) => {
    const message = problemOf(overrides);
    expect(message).toMatch(expected);
    expect(message).not.toContain(SECRET);
  });

  it('lists every problem at once', () => {
    const message = problemOf({ projectApiKey: '', pollingIntervalMs: 0, redis: 'nope://x' });
    expect(message).toMatch(/projectApiKey/);
    expect(message).toMatch(/pollingIntervalMs/);
    expect(message).toMatch(/redis/);
  });

  it('never echoes a Redis URL, which may hold a password', () => {
    const message = problemOf({ redis: 'redis://user:hunter2@:6379/x' });
    expect(message).not.toContain('hunter2');
  });

  it('never echoes a bad secret', () => {
    expect(problemOf({ secretKey: 'phc_leaky_project_key_as_secret' })).not.toContain('phc_leaky');
  });

  it('applies defaults derived from the polling interval', () => {
    const resolved = resolveOptions({ ...base, pollingIntervalMs: 1_000 });
    expect(resolved).toMatchObject({
      host: 'https://us.i.posthog.com',
      keyPrefix: 'posthog:flags',
      leaseTtlMs: 3_000,
      maxAgeMs: 5_000,
      onMissingDistinctId: 'deny',
      deniedStatus: 404,
      onlyEvaluateLocally: true,
      mode: 'standalone',
      maxPropertyLength: 1_000,
      maxDistinctIdLength: 200,
      evaluationCacheMaxBytes: 16 * 1024 * 1024,
    });
    expect(resolveOptions(base).pollingIntervalMs).toBe(30_000);
  });

  it.each([
    [{ redis: 'redis://localhost:6379' }, 'shared'],
    [{ redis: 'redis://localhost:6379', secretKey: undefined }, 'reader'],
    [{}, 'standalone'],
    [{ secretKey: undefined }, 'remote'],
    [{ secretKey: undefined, definitions: { flags: [] } }, 'offline'],
  ])('picks the mode from what is configured (%j → %s)', (overrides, mode) => {
    expect(resolveOptions({ ...base, ...overrides } as PostHogFlagsModuleOptions).mode).toBe(mode);
  });

  it('accepts personalApiKey as an alias of secretKey', () => {
    const resolved = resolveOptions({ projectApiKey: 'phc_p', personalApiKey: 'phx_personal' });
    expect(resolved.secretKey).toBe('phx_personal');
    expect(resolved.mode).toBe('standalone');
  });

  it('defaults the distinct id to req.user.id, then req.user.sub, and trusts no header', () => {
    const { distinctId } = resolveOptions(base);
    expect(distinctId({ user: { id: 7, sub: 'x' } })).toBe('7');
    expect(distinctId({ user: { sub: 'auth0|1' } })).toBe('auth0|1');
    expect(distinctId({ headers: { 'x-posthog-distinct-id': 'attacker' } })).toBeUndefined();
  });

  it('accepts every documented redis shape', () => {
    for (const redis of [
      'redis://localhost:6379',
      'rediss://user:pw@cache.example:6380/2',
      { host: 'localhost', port: 6379 },
      { sentinels: [{ host: 'localhost', port: 26379 }], name: 'mymaster' },
      { cluster: [{ host: 'localhost', port: 7000 }] },
      // Real clients of every accepted library, never connected.
      { client: new Redis({ lazyConnect: true }) },
      { client: new Cluster([{ host: 'localhost', port: 7000 }], { lazyConnect: true }) },
      { client: new Redis6({ lazyConnect: true, protocol: 3 }) },
      { client: createClient() },
      { client: createCluster({ rootNodes: [{ url: 'redis://localhost:7000' }] }) },
      { client: createClient6() },
    ]) {
      expect(() => resolveOptions({ ...base, redis } as PostHogFlagsModuleOptions)).not.toThrow();
    }
  });

  it('validates openTelemetry: true, false or { meter } with a Meter', () => {
    expect(problemOf({ openTelemetry: 'yes' })).toMatch(
      /openTelemetry must be true, false or \{ meter \}/,
    );
    expect(problemOf({ openTelemetry: { meter: {} } })).toMatch(/openTelemetry must be/);
    const meter = { createCounter() {}, createObservableGauge() {}, createHistogram() {} };
    expect(resolveOptions({ ...base, openTelemetry: true }).openTelemetry).toEqual({});
    expect(resolveOptions({ ...base, openTelemetry: { meter } }).openTelemetry).toEqual({ meter });
    expect(resolveOptions({ ...base, openTelemetry: false }).openTelemetry).toBeUndefined();
  });
});
