import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { HttpException, type INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { PostHog } from 'posthog-node';
import request from 'supertest';
import { FlagEvaluator } from '../src/evaluation/flag-evaluator.js';
import { POSTHOG_CLIENT, type PostHogFlagsModuleOptions } from '../src/index.js';
import { createApp, type HttpAdapterName } from './app/create-app.js';
import { FakePostHog } from './support/fake-posthog.js';

const exampleFlags = JSON.parse(readFileSync('test/app/flags.json', 'utf8'));
const USERS = Array.from({ length: 60 }, (_, i) => `user-${i}`);

async function start(
  adapter: HttpAdapterName,
  options: PostHogFlagsModuleOptions,
): Promise<INestApplication> {
  const app = await createApp(options, adapter, { logger: false });
  await app.init();
  if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** Users whose value of `flag` (read through the service) satisfies `accept`. */
async function usersWhere(
  app: INestApplication,
  accept: (flags: Record<string, unknown>) => boolean,
  userSuffix = '',
): Promise<string[]> {
  const matches: string[] = [];
  for (const user of USERS) {
    const { body } = await request(app.getHttpServer())
      .get('/flags/me')
      .set('authorization', `Bearer ${user}${userSuffix}`);
    if (accept(body.flags)) matches.push(user);
  }
  return matches;
}

describe.each<HttpAdapterName>(['express', 'fastify'])('gating on %s', (adapter) => {
  let fake: FakePostHog;
  let app: INestApplication;
  const options = (extra: Partial<PostHogFlagsModuleOptions> = {}): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: 200,
    posthog: { flushAt: 1_000, flushInterval: 60_000 },
    ...extra,
  });
  const http = () => request(app.getHttpServer());
  const as = (user: string) => ({ authorization: `Bearer ${user}` });

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: exampleFlags });
    app = await start(adapter, options());
  });
  afterAll(async () => {
    await app.close();
    await fake.close();
  });

  it('gates a whole controller, and lets an exempt handler through', async () => {
    await http().get('/checkout').set(as('alice')).expect(200, { checkout: 'new', enabled: true });
    await http().get('/checkout/help').expect(200, { help: 'checkout help' });
    await http().get('/checkout').expect(404);
  });

  it('requires every flag stacked on a route (class + handler)', async () => {
    const withExpress = await usersWhere(app, (f) => f['express-shipping'] === true);
    const without = USERS.filter((u) => !withExpress.includes(u));
    expect(withExpress.length).toBeGreaterThan(10);
    expect(without.length).toBeGreaterThan(10);
    for (const user of withExpress.slice(0, 5))
      await http().get('/checkout/express').set(as(user)).expect(200);
    for (const user of without.slice(0, 5))
      await http().get('/checkout/express').set(as(user)).expect(404);
  });

  it('gates on variants: in the list passes with its payload, out of the list is denied', async () => {
    const variants = new Map<string, string>();
    for (const user of USERS.slice(0, 30)) {
      const { body } = await http().get('/flags/me').set(as(user));
      variants.set(user, body.flags['pricing-experiment']);
    }
    const control = [...variants].filter(([, v]) => v === 'control').map(([u]) => u);
    const inTest = [...variants].filter(([, v]) => v === 'test-a' || v === 'test-b');
    expect(control.length).toBeGreaterThan(0);
    expect(inTest.length).toBeGreaterThan(0);
    for (const user of control) await http().get('/pricing').set(as(user)).expect(404);
    for (const [user, variant] of inTest) {
      const { body } = await http().get('/pricing').set(as(user)).expect(200);
      // @FlagValue returns exactly what the guard decided, and the variant's payload.
      expect(body.variant).toBe(variant);
      expect(body.payload.discount).toBe(variant === 'test-a' ? 10 : 20);
    }
  });

  it('feeds person properties from the request into the evaluation', async () => {
    const { body } = await http().get('/pricing/beta').set(as('bob:beta')).expect(200);
    expect(body.flags).toEqual({ 'beta-dashboard': true }); // @Flags(): the guard's own snapshot
    await http().get('/pricing/beta').set(as('bob:free')).expect(404);
  });

  it('evaluates group flags from the request’s groups', async () => {
    await http().get('/pricing/enterprise').set(as('carol:free:acme')).expect(200);
    await http().get('/pricing/enterprise').set(as('carol:free:initech')).expect(404);
    await http().get('/pricing/enterprise').set(as('carol')).expect(404);
  });

  it('reads a flag on demand where no guard ran (@FlagValue on an ungated route)', async () => {
    await http()
      .get('/pricing/banner')
      .set(as('alice'))
      .expect(200, { banner: 'Try the new checkout' });
    await http().get('/pricing/banner').expect(200, { banner: null }); // no user: off
  });

  it('ignores a client-sent distinct id header unless the app opts in', async () => {
    const beta = { 'x-posthog-distinct-id': 'bob', 'x-posthog-person-plan': 'beta' };
    await http().get('/checkout').set(beta).expect(404);
    await http()
      .get('/pricing/beta')
      .set({ ...as('eve:free'), ...beta })
      .expect(404);

    const optedIn = await start(
      adapter,
      options({
        distinctId: (req: { headers: Record<string, string> }) =>
          req.headers['x-posthog-distinct-id'],
      }),
    );
    try {
      await request(optedIn.getHttpServer()).get('/checkout').set(beta).expect(200);
    } finally {
      await optedIn.close();
    }
  });

  it('makes no /flags call and at most one SDK evaluation per request over 1 000 requests', async () => {
    const posthog: PostHog = app.get(POSTHOG_CLIENT);
    const evaluator = app.get(FlagEvaluator);
    const spy = jest.spyOn(posthog, 'evaluateFlags');
    fake.resetCounts();
    const users = USERS.slice(0, 20);
    for (let i = 0; i < 1_000; i++) {
      await http()
        .get('/checkout')
        .set(as(users[i % users.length]))
        .expect(200);
    }
    expect(fake.counts.flags).toBe(0);
    // One evaluation per distinct user on first sight, none on the 980 memo hits.
    expect(spy.mock.calls.length).toBeLessThanOrEqual(users.length);
    expect(spy.mock.calls.length).toBeGreaterThan(0);
    expect(
      spy.mock.calls.every(
        ([, opts]) => (opts as { onlyEvaluateLocally?: boolean }).onlyEvaluateLocally === true,
      ),
    ).toBe(true);
    expect(evaluator.sdkEvaluations).toBeGreaterThanOrEqual(spy.mock.calls.length);
    spy.mockRestore();
  });

  it('keeps memo entries apart for different person properties', async () => {
    const posthog: PostHog = app.get(POSTHOG_CLIENT);
    const spy = jest.spyOn(posthog, 'evaluateFlags');
    const user = `memo-${adapter}`;
    for (const [plan, status] of [
      ['beta', 200],
      ['free', 404],
      ['beta', 200],
      ['free', 404],
    ] as const) {
      await http()
        .get('/pricing/beta')
        .set(as(`${user}:${plan}`))
        .expect(status);
    }
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
  });

  describe.each([
    ['403', { deniedStatus: 403 as const }, 403],
    [
      'a custom exception',
      { deniedStatus: () => new HttpException('Upgrade to see this', 402) },
      402,
    ],
  ])('denial as %s', (_name, extra, status) => {
    let custom: INestApplication;
    beforeAll(async () => {
      custom = await start(adapter, options(extra));
    });
    afterAll(async () => custom.close());

    it('answers a denied request with it', async () => {
      await request(custom.getHttpServer()).get('/checkout').expect(status);
      await request(custom.getHttpServer()).get('/pricing/beta').set(as('bob:free')).expect(status);
      await request(custom.getHttpServer()).get('/checkout').set(as('alice')).expect(200);
    });
  });

  it('evaluates a request without a user as the anonymous id when configured', async () => {
    const anonymous = await start(adapter, options({ onMissingDistinctId: 'anonymous' }));
    try {
      await request(anonymous.getHttpServer()).get('/checkout').expect(200);
      await request(anonymous.getHttpServer()).get('/pricing/beta').expect(404);
    } finally {
      await anonymous.close();
    }
  });
});
