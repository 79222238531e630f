import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { PostHog } from 'posthog-node';
import {
  booleanFlag,
  FakePostHog,
  manyFlags,
  multivariateFlag,
  type FlagDefinitionsPayload,
} from './fake-posthog.js';

const baseDefinitions: FlagDefinitionsPayload = {
  flags: [
    booleanFlag('always-on', { payload: { steps: 2 } }),
    booleanFlag('retired', { active: false }),
    multivariateFlag('pinned-variant', [
      { key: 'a', rolloutPercentage: 0 },
      { key: 'b', rolloutPercentage: 100 },
    ]),
    multivariateFlag('ab-test', [
      { key: 'control', rolloutPercentage: 50 },
      { key: 'test', rolloutPercentage: 50 },
    ]),
  ],
};

// posthog-node clamps featureFlagsPollingInterval to at least 100 ms.
const POLL_MS = 100;

function localClient(fake: FakePostHog, secretKey = fake.secretKey): PostHog {
  return new PostHog(fake.projectApiKey, {
    host: fake.url,
    secretKey,
    featureFlagsPollingInterval: POLL_MS,
    flushAt: 1000,
    flushInterval: 0,
  });
}

function definitionsUrl(fake: FakePostHog, token = fake.projectApiKey): string {
  return `${fake.url}/flags/definitions?token=${token}&send_cohorts`;
}

function getDefinitions(
  fake: FakePostHog,
  headers: Record<string, string> = {},
  token?: string,
): Promise<Response> {
  return fetch(definitionsUrl(fake, token), {
    headers: { Authorization: `Bearer ${fake.secretKey}`, ...headers },
  });
}

describe('FakePostHog driven by the real posthog-node', () => {
  let fake: FakePostHog;
  const clients: PostHog[] = [];

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: baseDefinitions });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.shutdown()));
    fake.setFault(undefined);
    fake.setRemoteFlags(undefined);
    fake.setDefinitions(baseDefinitions);
    fake.resetCounts();
  });

  afterAll(async () => {
    await fake.close();
  });

  it('serves definitions to the poller: 200 once, then 304 with the ETag', async () => {
    const client = localClient(fake);
    clients.push(client);
    expect(await client.waitForLocalEvaluationReady(5000)).toBe(true);
    await fake.waitFor(() => fake.counts.definitions304 >= 2);

    expect(fake.counts.definitions200).toBe(1);
    expect(fake.counts.definitionsError).toBe(0);
    const polls = fake.requests.filter((r) => r.path === '/flags/definitions');
    expect(polls[0]).toMatchObject({ method: 'GET', status: 200 });
    expect(polls[0].ifNoneMatch).toBeUndefined();
    expect(polls[1]).toMatchObject({ status: 304, ifNoneMatch: fake.etag });
    expect(polls.every((r) => r.authorization === `Bearer ${fake.secretKey}`)).toBe(true);
    // The bearer is kept, but out of printed output.
    expect(JSON.stringify(fake.requests)).not.toContain(fake.secretKey);
    expect(fake.etag).toMatch(/^"[0-9a-f]{32}"$/);

    const flags = await client.evaluateFlags('user-1', { onlyEvaluateLocally: true });
    expect(flags.getFlag('always-on')).toBe(true);
    expect(flags.getFlagPayload('always-on')).toEqual({ steps: 2 });
    expect(flags.getFlag('retired')).toBe(false);
    expect(flags.getFlag('pinned-variant')).toBe('b');
    expect(['control', 'test']).toContain(flags.getFlag('ab-test'));
    expect(fake.counts.flags).toBe(0);
  });

  it('serves a definitions change with a new ETag', async () => {
    const client = localClient(fake);
    clients.push(client);
    await client.waitForLocalEvaluationReady(5000);
    const firstEtag = fake.etag;

    fake.setDefinitions({
      flags: [booleanFlag('always-on', { active: false }), booleanFlag('brand-new')],
    });
    expect(fake.etag).not.toBe(firstEtag);
    await fake.waitFor(() => fake.counts.definitions200 >= 2);
    await fake.waitFor(() => fake.counts.definitions304 >= 1);

    const flags = await client.evaluateFlags('user-1', { onlyEvaluateLocally: true });
    expect(flags.getFlag('always-on')).toBe(false);
    expect(flags.getFlag('brand-new')).toBe(true);
    expect(flags.getFlag('ab-test')).toBeUndefined();
  });

  it('answers 401 to a wrong secret key or an unknown project token', async () => {
    const client = localClient(fake, 'phs_wrong_key');
    clients.push(client);
    await fake.waitFor(() => fake.counts.definitionsError >= 1);
    expect(fake.counts.definitions200).toBe(0);
    expect(fake.requests[0]).toMatchObject({ path: '/flags/definitions', status: 401 });
    expect(client.isLocalEvaluationReady()).toBe(false);

    const noBearer = await fetch(definitionsUrl(fake));
    expect(noBearer.status).toBe(401);
    expect(await noBearer.json()).toMatchObject({
      type: 'authentication_error',
      code: 'invalid_api_key',
    });
    expect((await getDefinitions(fake, {}, 'phc_other_project')).status).toBe(401);
  });

  it('recovers the real client from malformed 200s', async () => {
    fake.setFault({ kind: 'truncated' }, { times: 2 });
    const client = localClient(fake);
    clients.push(client);
    expect(await client.waitForLocalEvaluationReady(5000)).toBe(true);
    expect(fake.counts.definitions200).toBe(3);
  });

  it('answers remote evaluation on /flags/?v=2', async () => {
    const client = new PostHog(fake.projectApiKey, { host: fake.url, flushAt: 1000 });
    clients.push(client);

    // Default: derived from the definitions; inactive flags are left out, like PostHog does.
    let flags = await client.evaluateFlags('user-1');
    expect(flags.getFlag('always-on')).toBe(true);
    expect(flags.getFlagPayload('always-on')).toEqual({ steps: 2 });
    expect(flags.getFlag('pinned-variant')).toBe('b');
    expect(flags.getFlag('ab-test')).toBe(false);
    expect(flags.keys).not.toContain('retired');
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/flags/', status: 200 });

    fake.setRemoteFlags({ checkout: 'variant-1', banner: false }, { checkout: { hello: 'world' } });
    flags = await client.evaluateFlags('user-1');
    expect(flags.getFlag('checkout')).toBe('variant-1');
    expect(flags.getFlagPayload('checkout')).toEqual({ hello: 'world' });
    expect(flags.isEnabled('banner')).toBe(false);

    let seen: Record<string, unknown> = {};
    fake.setRemoteFlags((body) => {
      seen = body;
      return { who: String(body.distinct_id), other: true };
    });
    flags = await client.evaluateFlags('user-42', {
      flagKeys: ['who'],
      personProperties: { plan: 'pro' },
    });
    expect(flags.keys).toEqual(['who']);
    expect(flags.getFlag('who')).toBe('user-42');
    expect(seen).toMatchObject({
      token: fake.projectApiKey,
      distinct_id: 'user-42',
      person_properties: expect.objectContaining({ plan: 'pro' }),
      flag_keys_to_evaluate: ['who'],
    });
    expect(fake.counts.flags).toBe(3);
  });

  it('records gzip-compressed $feature_flag_called events from /batch/', async () => {
    const client = localClient(fake);
    clients.push(client);
    await client.waitForLocalEvaluationReady(5000);
    const flags = await client.evaluateFlags('user-7', { onlyEvaluateLocally: true });
    expect(flags.isEnabled('always-on')).toBe(true);
    await client.flush();

    const called = fake.events.filter((event) => event.event === '$feature_flag_called');
    expect(called).toEqual([
      expect.objectContaining({
        distinct_id: 'user-7',
        properties: expect.objectContaining({
          $feature_flag: 'always-on',
          $feature_flag_response: true,
        }),
      }),
    ]);
    const batch = fake.requests.find((r) => r.path === '/batch/');
    expect(batch).toMatchObject({ method: 'POST', status: 200, contentEncoding: 'gzip' });
    expect(fake.counts.batch).toBe(1);

    client.capture({ distinctId: 'user-7', event: 'on-shutdown' });
    clients.splice(clients.indexOf(client), 1);
    await client.shutdown();
    expect(fake.events.map((event) => event.event)).toContain('on-shutdown');
  });

  it('answers 404 to anything else', async () => {
    expect((await fetch(`${fake.url}/decide/?v=3`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${fake.url}/flags/definitions`, { method: 'POST' })).status).toBe(404);
  });
});

describe('FakePostHog definitions faults', () => {
  let fake: FakePostHog;

  beforeAll(async () => {
    fake = await FakePostHog.start({
      definitions: { flags: manyFlags(16) },
      extraSecretKeys: ['phs_second_process'],
    });
  });

  afterEach(() => {
    fake.setFault(undefined);
    fake.resetCounts();
  });

  afterAll(async () => {
    await fake.close();
  });

  it('answers 200 with the ETag, then 304 with no body to a matching If-None-Match', async () => {
    const first = await getDefinitions(fake);
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(fake.etag);
    const body = (await first.json()) as FlagDefinitionsPayload;
    expect(body.flags).toHaveLength(16);
    expect(body).toMatchObject({ group_type_mapping: {}, cohorts: {} });

    const second = await getDefinitions(fake, { 'If-None-Match': fake.etag });
    expect(second.status).toBe(304);
    expect(second.headers.get('etag')).toBe(fake.etag);
    expect(await second.text()).toBe('');
    expect(fake.counts).toMatchObject({ definitions: 2, definitions200: 1, definitions304: 1 });
  });

  it('status: answers PostHog-like error bodies', async () => {
    fake.setFault({ kind: 'status', status: 402 });
    const quota = await getDefinitions(fake);
    expect(quota.status).toBe(402);
    expect(await quota.json()).toMatchObject({ type: 'quota_limited' });

    fake.setFault({ kind: 'status', status: 503, body: 'upstream down' });
    const down = await getDefinitions(fake);
    expect(down.status).toBe(503);
    expect(await down.text()).toBe('upstream down');
    expect(fake.counts.definitionsError).toBe(2);
  });

  it('times: applies to the next N requests only', async () => {
    fake.setFault({ kind: 'status', status: 500 }, { times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await getDefinitions(fake)).status);
    }
    expect(statuses).toEqual([500, 500, 200]);
  });

  it('secretKey: applies only to requests made with that bearer', async () => {
    fake.setFault({ kind: 'status', status: 429 }, { secretKey: 'phs_second_process' });
    expect((await getDefinitions(fake)).status).toBe(200);
    const limited = await getDefinitions(fake, { Authorization: 'Bearer phs_second_process' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
  });

  it('delay: answers normally after the delay', async () => {
    fake.setFault({ kind: 'delay', ms: 300 });
    const started = Date.now();
    const res = await getDefinitions(fake);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('hang: holds the request until the fault is cleared', async () => {
    fake.setFault({ kind: 'hang' });
    let settled = false;
    const pending = getDefinitions(fake).finally(() => {
      settled = true;
    });
    await fake.waitFor(() => fake.counts.definitions === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    fake.setFault(undefined);
    expect((await pending).status).toBe(200);
  });

  it('truncated, invalid-json and no-flags: 200 with an unusable body', async () => {
    fake.setFault({ kind: 'truncated' }, { times: 1 });
    const truncated = await getDefinitions(fake);
    expect(truncated.status).toBe(200);
    expect(truncated.headers.get('etag')).toBe(fake.etag);
    const text = await truncated.text();
    expect(text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);

    fake.setFault({ kind: 'invalid-json' }, { times: 1 });
    const invalid = await getDefinitions(fake);
    expect(invalid.status).toBe(200);
    await expect(invalid.json()).rejects.toThrow('is not valid JSON');

    fake.setFault({ kind: 'no-flags' }, { times: 1 });
    const empty = await getDefinitions(fake);
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({});
  });

  it('reset: destroys the socket', async () => {
    fake.setFault({ kind: 'reset' });
    await expect(getDefinitions(fake)).rejects.toThrow('fetch failed');
    expect(fake.counts.definitionsError).toBe(1);
  });

  it('waitFor: rejects with a clear message on timeout', async () => {
    await expect(fake.waitFor(() => false, 50)).rejects.toThrow(/timed out after 50 ms/);
  });

  it('close: ends hung requests too', async () => {
    const other = await FakePostHog.start();
    other.setFault({ kind: 'hang' });
    const pending = getDefinitions(other);
    await other.waitFor(() => other.counts.definitions === 1);
    await other.close();
    await expect(pending).rejects.toThrow('fetch failed');
  });
});
