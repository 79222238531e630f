import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type {
  FlagDefinitions,
  PostHogFlagsModuleOptions,
} from '../posthog-flags-options.interface.js';
import { POSTHOG_FLAGS_MODULE_OPTIONS } from '../posthog-flags.module-definition.js';
import { postHogFlagsExports, postHogFlagsProviders } from '../posthog-flags.providers.js';
import { definitionsFromFlagMap, type TestFlagMap } from './flag-map.js';
import { PostHogFlagsTesting } from './posthog-flags-testing.service.js';

/** Options of `PostHogFlagsTestingModule.forRoot()`. */
export type PostHogFlagsTestingOptions = Omit<
  PostHogFlagsModuleOptions,
  | 'projectApiKey'
  | 'secretKey'
  | 'personalApiKey'
  | 'redis'
  | 'definitions'
  | 'definitionsFile'
  | 'host'
> & {
  /** Flags as a map: `{ 'new-checkout': true, pricing: 'test-b' }`. */
  flags?: TestFlagMap;
  /** Or full PostHog definitions (rollouts, conditions, cohorts) for the real engine to evaluate. */
  definitions?: FlagDefinitions;
};

/**
 * Stands in for `PostHogFlagsModule` in an app's own tests: the same guard, decorators and service,
 * evaluated by the real posthog-node engine, with no network and no Redis. Global.
 *
 * @example
 * // app: export const flagsModule = PostHogFlagsModule.forRootAsync({ ... }); imports: [flagsModule]
 * Test.createTestingModule({ imports: [AppModule] })
 *   .overrideModule(flagsModule)
 *   .useModule(PostHogFlagsTestingModule.forRoot({ flags: { 'new-checkout': true } }))
 */
@Module({})
export class PostHogFlagsTestingModule {
  static forRoot(options: PostHogFlagsTestingOptions = {}): DynamicModule {
    const { flags, definitions, ...rest } = options;
    const moduleOptions: PostHogFlagsModuleOptions = {
      sendFeatureFlagEvents: false,
      ...rest,
      projectApiKey: 'phc_testing',
      definitions: definitions ?? definitionsFromFlagMap(flags ?? {}),
    };
    return {
      module: PostHogFlagsTestingModule,
      global: true,
      imports: [TerminusModule, DiscoveryModule],
      providers: [
        { provide: POSTHOG_FLAGS_MODULE_OPTIONS, useValue: moduleOptions },
        ...postHogFlagsProviders,
        PostHogFlagsTesting,
      ],
      exports: [...postHogFlagsExports, PostHogFlagsTesting],
    };
  }
}
