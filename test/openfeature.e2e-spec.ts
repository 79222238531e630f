import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { FlagEvaluator } from '../src/evaluation/flag-evaluator.js';
import {
  PostHogFlagsHealthIndicator,
  PostHogFlagsModule,
  type PostHogFlagsModuleOptions,
} from '../src/index.js';
import { PostHogFlagsProvider } from '../src/openfeature/index.js';
import {
  CONSISTENCY_IDS,
  consistencyDefinitions,
  posthogNodeResults,
} from './support/consistency-definitions.js';
import { FakePostHog, booleanFlag, multivariateFlag } from './support/fake-posthog.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Flags for the context mapping, payloads and every error code. */
const mappingDefinitions = () => {
  const brokenPayload = booleanFlag('broken-payload') as { filters: { payloads: object } };
  brokenPayload.filters.payloads = { true: '{"color": "red"' }; // stored as PostHog would: text
  return {
    flags: [
      booleanFlag('pro-only', {
        properties: [{ key: 'plan', type: 'person', value: ['pro'], operator: 'exact' }],
      }),
      booleanFlag('company-flag', { aggregationGroupTypeIndex: 0 }),
      booleanFlag('checkout-config', { payload: { color: 'blue', limits: { max: 3 } } }),
      brokenPayload,
      booleanFlag('scalar-payload', { payload: 42 }),
      booleanFlag('retired', { active: false }),
      multivariateFlag(
        'page-size',
        [
          { key: '10', rolloutPercentage: 50 },
          { key: '20', rolloutPercentage: 50 },
        ],
        { payloads: { '10': { layout: 'compact' }, '20': { layout: 'roomy' } } },
      ),
    ],
    group_type_mapping: { '0': 'company' },
  };
};

async function startModule(options: PostHogFlagsModuleOptions): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(PostHogFlagsModule.forRoot(options), {
    logger: false,
  });
}

describe('OpenFeature provider (nestjs-posthog-flags/openfeature), plain @openfeature/server-sdk', () => {
  let fake: FakePostHog;
  const apps: INestApplicationContext[] = [];
  const base = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: 100,
  });

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: consistencyDefinitions });
  });
  afterEach(async () => {
    await OpenFeature.clearProviders();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await fake.close();
  });

  it('reproduces posthog-node’s results for 1 000 ids, boolean and multivariate, on the memoized evaluator', async () => {
    fake.setDefinitions(consistencyDefinitions);
    const app = await startModule(base());
    apps.push(app);
    const provider = new PostHogFlagsProvider(app);
    await OpenFeature.setProviderAndWait('consistency', provider);
    const client = OpenFeature.getClient('consistency');
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(client.metadata.providerMetadata.name).toBe('nestjs-posthog-flags');
    const expected = await posthogNodeResults(fake, CONSISTENCY_IDS);

    const evaluator = app.get(FlagEvaluator, { strict: false });
    const sdkCalls: number[] = [];
    for (const pass of ['cold', 'memoized']) {
      const before = evaluator.sdkEvaluations;
      const details = await Promise.all(
        CONSISTENCY_IDS.map(async (targetingKey) => [
          await client.getBooleanDetails('simple-flag', false, { targetingKey }),
          await client.getStringDetails('multivariate-flag', 'none', { targetingKey }),
        ]),
      );
      sdkCalls.push(evaluator.sdkEvaluations - before);
      const actual = details.map(([simple, multivariate]) => [
        simple.value,
        multivariate.reason === 'DEFAULT' ? false : multivariate.value,
      ]);
      expect({ pass, actual }).toEqual({ pass, actual: expected });
      // Details as OpenFeature describes them: the variant, why, and which PostHog flag.
      for (const [i, [simple, multivariate]] of details.entries()) {
        const [simpleExpected, variantExpected] = expected[i];
        expect(simple).toMatchObject({
          variant: String(simpleExpected),
          reason: simpleExpected ? 'TARGETING_MATCH' : 'DEFAULT',
        });
        expect(simple.errorCode).toBeUndefined();
        expect(typeof simple.flagMetadata.flagId).toBe('number');
        expect(multivariate).toMatchObject({
          variant: String(variantExpected),
          reason: variantExpected ? 'TARGETING_MATCH' : 'DEFAULT',
        });
      }
    }
    const enabled = expected.filter(([simple]) => simple === true).length;
    const variants = new Set(expected.map(([, variant]) => variant));
    console.log(
      `OpenFeature consistency: 1 000 ids, simple-flag on for ${enabled}, ${variants.size - 1} variants seen; ` +
        `posthog-node evaluations: ${sdkCalls[0]} cold, ${sdkCalls[1]} memoized`,
    );
    expect(enabled).toBeGreaterThan(400); // a 45% rollout over 1 000 ids
    expect(enabled).toBeLessThan(500);
    expect(variants).toEqual(
      new Set([
        false,
        'first-variant',
        'second-variant',
        'third-variant',
        'fourth-variant',
        'fifth-variant',
      ]),
    );
    expect(sdkCalls[0]).toBe(2 * CONSISTENCY_IDS.length); // one per id and flag, cold
    expect(sdkCalls[1]).toBe(0); // all of them remembered
  });

  it('maps targetingKey, person properties and groups; returns payloads as objects; reports OpenFeature error codes', async () => {
    fake.setDefinitions(mappingDefinitions());
    const app = await startModule(base());
    apps.push(app);
    await OpenFeature.setProviderAndWait('mapping', new PostHogFlagsProvider(app));
    const client = OpenFeature.getClient('mapping');
    const user = { targetingKey: 'user-1' };

    // Other attributes are person properties; `groups` are PostHog groups.
    expect(await client.getBooleanValue('pro-only', false, { ...user, plan: 'pro' })).toBe(true);
    expect(await client.getBooleanValue('pro-only', true, { ...user, plan: 'free' })).toBe(false);
    const company = { ...user, groups: { company: 'acme' } };
    expect(await client.getBooleanValue('company-flag', false, company)).toBe(true);

    // Payloads come back as objects, for the user's own variant.
    expect(await client.getObjectValue('checkout-config', {}, user)).toEqual({
      color: 'blue',
      limits: { max: 3 },
    });
    const pageSize = await client.getNumberDetails('page-size', 0, user);
    expect([10, 20]).toContain(pageSize.value);
    expect(pageSize.variant).toBe(String(pageSize.value));
    expect(await client.getObjectValue('page-size', {}, user)).toEqual({
      layout: pageSize.value === 10 ? 'compact' : 'roomy',
    });
    expect(await client.getStringValue('page-size', 'none', user)).toBe(String(pageSize.value));

    // An inactive flag is off, and says so.
    expect(await client.getBooleanDetails('retired', true, user)).toMatchObject({
      value: false,
      reason: 'DISABLED',
    });

    const failure = async (details: Promise<{ errorCode?: ErrorCode; value: unknown }>) => {
      const { errorCode, value } = await details;
      return { errorCode, value };
    };
    expect(await failure(client.getBooleanDetails('no-such-flag', true, user))).toEqual({
      errorCode: ErrorCode.FLAG_NOT_FOUND,
      value: true,
    });
    expect(await failure(client.getBooleanDetails('pro-only', true, { plan: 'pro' }))).toEqual({
      errorCode: ErrorCode.TARGETING_KEY_MISSING,
      value: true,
    });
    expect(await failure(client.getStringDetails('checkout-config', 'x', user))).toEqual({
      errorCode: ErrorCode.TYPE_MISMATCH,
      value: 'x',
    });
    expect(await failure(client.getObjectDetails('scalar-payload', { d: 1 }, user))).toEqual({
      errorCode: ErrorCode.TYPE_MISMATCH,
      value: { d: 1 },
    });
    expect(await failure(client.getObjectDetails('broken-payload', { d: 1 }, user))).toEqual({
      errorCode: ErrorCode.PARSE_ERROR,
      value: { d: 1 },
    });
    expect(await failure(client.getNumberDetails('checkout-config', 7, user))).toEqual({
      errorCode: ErrorCode.TYPE_MISMATCH,
      value: 7,
    });
    const tooLong = { targetingKey: 'x'.repeat(201) };
    expect(await failure(client.getBooleanDetails('pro-only', true, tooLong))).toEqual({
      errorCode: ErrorCode.INVALID_CONTEXT,
      value: true,
    });
  });

  it('emits STALE when health would say stale, READY when PostHog confirms again, ERROR over quota', async () => {
    fake.setDefinitions(consistencyDefinitions);
    const maxAgeMs = 600;
    const app = await startModule({ ...base(), maxAgeMs });
    apps.push(app);
    const health = app.get(PostHogFlagsHealthIndicator, { strict: false });
    const healthStatus = () => health.isHealthy().posthog_flags.status;
    const provider = new PostHogFlagsProvider(app, { healthCheckIntervalMs: 50 });
    await OpenFeature.setProviderAndWait('health', provider);
    const client = OpenFeature.getClient('health');
    const seen: Array<{ event: string; health: string; message?: string }> = [];
    for (const event of [ProviderEvents.Ready, ProviderEvents.Stale, ProviderEvents.Error]) {
      client.addHandler(event, (details) => {
        seen.push({ event, health: healthStatus(), message: details?.message });
      });
    }
    // A handler added to a READY provider runs once at once (OpenFeature's rule): not ours.
    await sleep(20);
    seen.length = 0;
    const waitFor = async (event: ProviderEvents, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!seen.some((s) => s.event === event) && Date.now() < deadline) await sleep(20);
      return seen.find((s) => s.event === event);
    };

    fake.setFault({ kind: 'status', status: 500 });
    const failingSince = Date.now();
    const stale = await waitFor(ProviderEvents.Stale, 5_000);
    expect(stale).toMatchObject({ event: ProviderEvents.Stale, health: 'down' });
    expect(stale?.message).toContain(`maxAgeMs ${maxAgeMs}`);
    expect(Date.now() - failingSince).toBeGreaterThanOrEqual(maxAgeMs - 200);
    expect(client.providerStatus).toBe(ProviderStatus.STALE);
    // Stale definitions are still served.
    const served = await client.getBooleanDetails('simple-flag', false, { targetingKey: 'x' });
    expect(served.errorCode).toBeUndefined();
    expect(served.reason).not.toBe('ERROR');

    fake.setFault(undefined);
    expect(await waitFor(ProviderEvents.Ready, 5_000)).toMatchObject({ health: 'up' });
    expect(client.providerStatus).toBe(ProviderStatus.READY);

    seen.length = 0;
    fake.setFault({ kind: 'status', status: 402 });
    const quota = await waitFor(ProviderEvents.Error, 5_000);
    expect(quota).toMatchObject({ event: ProviderEvents.Error, health: 'down' });
    expect(quota?.message).toContain('402');
    expect(quota?.message).not.toContain(fake.secretKey);
    expect(client.providerStatus).toBe(ProviderStatus.ERROR);
    // The quota returns with the definitions unchanged: PostHog would answer 304 to the old ETag.
    fake.setFault(undefined);
    expect(await waitFor(ProviderEvents.Ready, 5_000)).toMatchObject({ health: 'up' });
    // Never a flapping stream: one event per change of state.
    expect(seen.map((s) => s.event)).toEqual([ProviderEvents.Error, ProviderEvents.Ready]);
    // Every flag is back, not only health (posthog-node dropped them on the 402).
    const back = await client.getBooleanDetails('simple-flag', false, { targetingKey: 'x' });
    expect(back.errorCode).toBeUndefined();
  });
  it('fails initialization (ERROR) when no definitions arrive within startupTimeoutMs, then turns READY when they do', async () => {
    fake.setDefinitions(consistencyDefinitions);
    fake.setFault({ kind: 'status', status: 503 });
    try {
      const app = await startModule({ ...base(), startupTimeoutMs: 300 });
      apps.push(app);
      const provider = new PostHogFlagsProvider(app, { healthCheckIntervalMs: 50 });
      const failed = await OpenFeature.setProviderAndWait('late', provider).then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      expect(failed).toMatch(/^No flag definitions after 300 ms: PostHog answered a server error/);
      const client = OpenFeature.getClient('late');
      expect(client.providerStatus).toBe(ProviderStatus.ERROR);
      expect(
        await client.getBooleanDetails('simple-flag', true, { targetingKey: 'u' }),
      ).toMatchObject({ value: true, reason: 'ERROR' });
      const ready = new Promise<void>((resolve) =>
        client.addHandler(ProviderEvents.Ready, () => resolve()),
      );
      fake.setFault(undefined);
      await ready;
      expect(client.providerStatus).toBe(ProviderStatus.READY);
      const details = await client.getBooleanDetails('simple-flag', true, { targetingKey: 'u' });
      expect(details.errorCode).toBeUndefined();
    } finally {
      fake.setFault(undefined);
    }
  });
});
