import { Controller, Get } from '@nestjs/common';
import { FeatureFlag, FlagValue, SkipFeatureFlag } from '../../src/index.js';

/** A controller gated as a whole: every route needs `new-checkout`, except the exempt one. */
@Controller('checkout')
@FeatureFlag('new-checkout')
export class CheckoutController {
  @Get()
  checkout(@FlagValue('new-checkout') enabled: boolean) {
    return { checkout: 'new', enabled };
  }

  /** Gated by the class's flag alone, no flag parameters: the guard's own cost (the bench's route). */
  @Get('summary')
  summary() {
    return { summary: 'new checkout' };
  }

  /** Exempt from the class's flag: anyone may read the help page. */
  @Get('help')
  @SkipFeatureFlag()
  help() {
    return { help: 'checkout help' };
  }

  /** Class flag plus its own: both must pass. */
  @Get('express')
  @FeatureFlag('express-shipping')
  express() {
    return { shipping: 'express' };
  }
}
