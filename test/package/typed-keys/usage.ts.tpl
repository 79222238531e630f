// Compiled with the declaration `npx nestjs-posthog-flags types` wrote from the example app's
// definitions, against the packed .d.ts: the keys and variants are checked in a consumer too.
import { FeatureFlag, FeatureFlagsService } from 'nestjs-posthog-flags';

export class TypedPricing {
  constructor(private readonly flags: FeatureFlagsService) {}

  @FeatureFlag('pricing-experiment', { variant: ['test-a', 'test-b'] })
  async variant(userId: string): Promise<'control' | 'test-a' | 'test-b' | undefined> {
    // @ts-expect-error: a typo, not a declared flag key
    await this.flags.isEnabled('new-chekout', userId);
    return this.flags.getVariant('pricing-experiment', userId);
  }
}
