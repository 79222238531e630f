import { Controller, Get } from '@nestjs/common';
import { FeatureFlag, FlagValue, Flags, FeatureFlagsSnapshot } from '../../src/index.js';

interface PricingPayload {
  headline: string;
  discount: number;
}

@Controller('pricing')
export class PricingController {
  /** Only users in the experiment's test variants see the new pricing, with the variant's payload. */
  @Get()
  @FeatureFlag('pricing-experiment', { variant: ['test-a', 'test-b'] })
  pricing(
    @FlagValue('pricing-experiment') variant: string,
    @FlagValue('pricing-experiment', { payload: true }) payload: PricingPayload | undefined,
  ) {
    return { variant, payload };
  }

  /** Handler-level gate on a person-property flag (`plan = beta`). */
  @Get('beta')
  @FeatureFlag('beta-dashboard')
  beta(@Flags() flags: FeatureFlagsSnapshot) {
    return { beta: true, flags: flags.toJSON() };
  }

  /** A group flag: on for companies on the enterprise tier. */
  @Get('enterprise')
  @FeatureFlag('enterprise-reports')
  enterprise() {
    return { reports: 'enterprise' };
  }

  /** Ungated: reads a flag on demand (no guard on this route). */
  @Get('banner')
  banner(@FlagValue('new-checkout') newCheckout: boolean) {
    return { banner: newCheckout ? 'Try the new checkout' : null };
  }
}
