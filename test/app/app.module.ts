import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { PostHogFlagsModule, type PostHogFlagsModuleOptions } from '../../src/index.js';
import { CheckoutController } from './checkout.controller.js';
import { DemoAuthGuard } from './demo-auth.guard.js';
import { FlagsController } from './flags.controller.js';
import { HealthController } from './health.controller.js';
import { LivenessController } from './liveness.controller.js';
import { ReferenceController } from './reference.controller.js';
import { PricingController } from './pricing.controller.js';

/** What the app knows of its customers' companies (a database, in a real app). */
const COMPANY_TIERS: Record<string, string> = { acme: 'enterprise', initech: 'free' };

/** The example app: gated controllers and routes, the flags service, and a health endpoint. */
@Module({})
export class AppModule {
  static register(flags: PostHogFlagsModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TerminusModule,
        PostHogFlagsModule.forRoot({
          // The app's own way of knowing its users: here the demo auth guard's req.user, plus
          // the plan and company it knows of, for person-property and group flags.
          personProperties: (req) => (req.user ? { plan: req.user.plan } : undefined),
          groups: (req) => (req.user?.company ? { company: req.user.company } : undefined),
          groupProperties: (req) =>
            req.user?.company
              ? { company: { tier: COMPANY_TIERS[req.user.company] ?? 'free' } }
              : undefined,
          ...flags,
        }),
      ],
      controllers: [
        CheckoutController,
        PricingController,
        FlagsController,
        HealthController,
        LivenessController,
        ReferenceController,
      ],
      providers: [{ provide: APP_GUARD, useClass: DemoAuthGuard }],
    };
  }
}
