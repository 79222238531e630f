import { PostHog } from 'posthog-node';
import type { FeatureFlagValue } from '../../src/index.js';
import { booleanFlag, multivariateFlag, type FakePostHog } from './fake-posthog.js';

/** The flag shapes of PostHog's cross-SDK consistency tests: a 45% rollout and a 55% multivariate. */
export const consistencyDefinitions = {
  flags: [
    booleanFlag('simple-flag', { rolloutPercentage: 45 }),
    multivariateFlag(
      'multivariate-flag',
      [
        { key: 'first-variant', rolloutPercentage: 50 },
        { key: 'second-variant', rolloutPercentage: 20 },
        { key: 'third-variant', rolloutPercentage: 20 },
        { key: 'fourth-variant', rolloutPercentage: 5 },
        { key: 'fifth-variant', rolloutPercentage: 5 },
      ],
      { rolloutPercentage: 55 },
    ),
  ],
};

/** The ids those tests evaluate: `distinct_id_0` … `distinct_id_999`. */
export const CONSISTENCY_IDS = Array.from({ length: 1_000 }, (_, i) => `distinct_id_${i}`);

/** One id's expected values: `simple-flag` (boolean) and `multivariate-flag` (variant or false). */
export type ConsistencyExpectation = [FeatureFlagValue | undefined, FeatureFlagValue | undefined];

/**
 * What posthog-node itself evaluates for `ids` against the fake PostHog's current definitions:
 * the reference every other way of evaluating them must equal.
 */
export async function posthogNodeResults(
  fake: FakePostHog,
  ids: readonly string[] = CONSISTENCY_IDS,
): Promise<ConsistencyExpectation[]> {
  const reference = new PostHog(fake.projectApiKey, {
    host: fake.url,
    secretKey: fake.secretKey,
    featureFlagsPollingInterval: 60_000,
  });
  try {
    if (!(await reference.waitForLocalEvaluationReady(5_000))) {
      throw new Error('posthog-node did not load the definitions within 5 s');
    }
    return await Promise.all(
      ids.map(async (id): Promise<ConsistencyExpectation> => {
        const evaluation = await reference.evaluateFlags(id, { onlyEvaluateLocally: true });
        const read = (key: string) => evaluation.getFlag(key, { sendFeatureFlagEvents: false });
        return [read('simple-flag'), read('multivariate-flag')];
      }),
    );
  } finally {
    await reference.shutdown();
  }
}
