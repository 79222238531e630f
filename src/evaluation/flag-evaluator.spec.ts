import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PostHogFlagsTestingModule } from '../testing/posthog-flags-testing.module.js';
import { PostHogFlagsTesting } from '../testing/posthog-flags-testing.service.js';
import { FlagEvaluator, TIME_DEPENDENT_MEMO_MS } from './flag-evaluator.js';

const flag = (key: string, properties: unknown[] = []) => ({
  id: 1,
  key,
  active: true,
  filters: { groups: [{ properties, rollout_percentage: 100 }] },
});
/** On for people who signed up within the last 30 days: a result that moves with the clock. */
const recentSignup = flag('recent-signup', [
  { key: 'signed_up_at', type: 'person', operator: 'is_date_after', value: '-30d' },
]);

describe('FlagEvaluator memo (real posthog-node engine, offline definitions)', () => {
  let app: INestApplication;
  let evaluator: FlagEvaluator;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PostHogFlagsTestingModule.forRoot({
          definitions: { flags: [flag('plain'), recentSignup] },
        }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    evaluator = app.get(FlagEvaluator);
    // Offline boot involves no I/O: let the definitions' second generation bump (scheduled with
    // setImmediate) happen first, as it always has before an app serves its first request.
    await new Promise((resolve) => setImmediate(resolve));
  });
  afterAll(async () => app.close());

  it('answers a repeated evaluation from the memo, without the SDK', async () => {
    const before = evaluator.sdkEvaluations;
    for (let i = 0; i < 50; i++)
      expect((await evaluator.evaluate('u1', undefined, ['plain'])).isEnabled('plain')).toBe(true);
    expect(evaluator.sdkEvaluations - before).toBe(1);
    expect(evaluator.peek('u1', undefined, ['plain'])).toBeDefined();
  });

  it('keys the memo on person properties, whatever their order', async () => {
    const context = (props: Record<string, unknown>) => ({ personProperties: props });
    await evaluator.evaluate('u2', context({ a: 1, b: 2 }), ['plain']);
    expect(evaluator.peek('u2', context({ b: 2, a: 1 }), ['plain'])).toBeDefined();
    expect(evaluator.peek('u2', context({ a: 1, b: 3 }), ['plain'])).toBeUndefined();
  });

  it('keeps results of clock-dependent flags only briefly', async () => {
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now');
    try {
      const recent = {
        personProperties: { signed_up_at: new Date(now - 86_400_000).toISOString() },
      };
      const snapshot = await evaluator.evaluate('u3', recent, ['recent-signup']);
      expect(snapshot.isEnabled('recent-signup')).toBe(true);
      expect(evaluator.peek('u3', recent, ['recent-signup'])).toBeDefined();
      clock.mockReturnValue(Date.now() + TIME_DEPENDENT_MEMO_MS + 1);
      expect(evaluator.peek('u3', recent, ['recent-signup'])).toBeUndefined();
      // A flag without date conditions stays memoized however long it has been.
      expect(evaluator.peek('u1', undefined, ['plain'])).toBeDefined();
    } finally {
      clock.mockRestore();
    }
  });

  it('evaluates once for calls of one caller that arrive together', async () => {
    const before = evaluator.sdkEvaluations;
    const together = await Promise.all(
      Array.from({ length: 20 }, () => evaluator.evaluate('u5', undefined, ['plain'])),
    );
    expect(together.every((snapshot) => snapshot.isEnabled('plain'))).toBe(true);
    expect(evaluator.sdkEvaluations - before).toBe(1);
    // Other callers (or other properties) are never answered with this caller's result.
    const others = await Promise.all([
      evaluator.evaluate('u6', undefined, ['plain']),
      evaluator.evaluate('u6', { personProperties: { plan: 'pro' } }, ['plain']),
      evaluator.evaluate('u5', undefined, ['plain']),
    ]);
    expect(others.map((snapshot) => snapshot.distinctId)).toEqual(['u6', 'u6', 'u5']);
    expect(evaluator.sdkEvaluations - before).toBe(3);
  });

  it('a call after the definitions changed never joins an evaluation of the old ones', async () => {
    const before = evaluator.sdkEvaluations;
    const old = evaluator.evaluate('u7', undefined, ['plain']);
    await app.get(PostHogFlagsTesting).setFlags({ plain: false });
    const fresh = await evaluator.evaluate('u7', undefined, ['plain']);
    expect(fresh.isEnabled('plain')).toBe(false);
    await old;
    expect(evaluator.sdkEvaluations - before).toBe(2);
    await app.get(PostHogFlagsTesting).reset();
    await new Promise((resolve) => setImmediate(resolve)); // the generation bump that follows a load
  });

  it('drops every memoized result when the definitions change', async () => {
    await evaluator.evaluate('u4', undefined, ['plain']);
    expect(evaluator.peek('u4', undefined, ['plain'])).toBeDefined();
    await app.get(PostHogFlagsTesting).setFlags({ plain: false });
    expect(evaluator.peek('u4', undefined, ['plain'])).toBeUndefined();
    expect((await evaluator.evaluate('u4', undefined, ['plain'])).isEnabled('plain')).toBe(false);
  });
});
