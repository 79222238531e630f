import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import {
  BooleanFeatureFlag,
  OpenFeatureModule,
  type EvaluationDetails,
} from '@openfeature/nestjs-sdk';
import type { Observable } from 'rxjs';
import {
  FeatureFlagsService,
  PostHogFlagsModule,
  type FlagsStatus,
  type PostHogFlagsModuleOptions,
} from '../../src/index.js';
import { attachPostHogFlagsProvider, PostHogFlagsProvider } from '../../src/openfeature/index.js';

@Controller()
class OpenFeatureCheckoutController {
  constructor(private readonly flags: FeatureFlagsService) {}

  /** `@openfeature/nestjs-sdk`'s decorator, answered by this module's provider. */
  @Get('openfeature/new-checkout')
  newCheckout(
    @BooleanFeatureFlag({ flagKey: 'new-checkout', defaultValue: false })
    feature: Observable<EvaluationDetails<boolean>>,
  ): Observable<EvaluationDetails<boolean>> {
    return feature;
  }

  /** The same path as the example app's, so `WorkerProcess.status()` reads it. */
  @Get('flags/status')
  status(): FlagsStatus {
    return this.flags.status();
  }
}

/**
 * An app on `@openfeature/nestjs-sdk` with this module's provider as the default provider: the
 * provider exists before the app (as `forRoot` wants it) and is attached once the app is built.
 * The user is the `x-user-id` header.
 */
@Module({})
export class OpenFeatureAppModule {
  static register(flags: PostHogFlagsModuleOptions, provider: PostHogFlagsProvider): DynamicModule {
    return {
      module: OpenFeatureAppModule,
      imports: [
        PostHogFlagsModule.forRoot(flags),
        OpenFeatureModule.forRoot({
          defaultProvider: provider,
          contextFactory: (context) => {
            const userId: unknown = context.switchToHttp().getRequest().headers['x-user-id'];
            return typeof userId === 'string' ? { targetingKey: userId } : undefined;
          },
        }),
      ],
      controllers: [OpenFeatureCheckoutController],
      providers: [attachPostHogFlagsProvider(provider)],
    };
  }
}
