// A user's app, imported only from the package name (no deep imports): one route behind a flag that
// is on for everyone, one behind an inactive flag. Definitions are inline, so nothing leaves the box.
import { Controller, Get, Module, type Type } from '@nestjs/common';
import {
  FeatureFlag,
  FeatureFlagsService,
  PostHogFlagsModule,
  PostHogFlagsTestingModule,
  type FlagDefinitions,
  type PostHogFlagsModuleOptions,
} from 'nestjs-posthog-flags';
import type { connectRedis } from './redis-client.js';

const definitions: FlagDefinitions = {
  flags: [
    {
      id: 1,
      key: 'new-checkout',
      active: true,
      filters: { groups: [{ properties: [], rollout_percentage: 100 }] },
    },
    {
      id: 2,
      key: 'other',
      active: false,
      filters: { groups: [{ properties: [], rollout_percentage: 100 }] },
    },
  ],
};

// Typed through the exported options type: a wrong signature here is a .d.ts regression.
const distinctId: PostHogFlagsModuleOptions['distinctId'] = (req) => req.headers['x-user-id'];

@Controller('checkout')
export class CheckoutController {
  // Injected by class: emitDecoratorMetadata needs FeatureFlagsService to be a runtime export.
  constructor(private readonly flags: FeatureFlagsService) {}

  @Get()
  @FeatureFlag('new-checkout')
  checkout(): { checkout: string; role: string } {
    return { checkout: 'new', role: this.flags.status().role };
  }
}

@Controller('other')
export class OtherController {
  @Get()
  @FeatureFlag('other')
  other(): { other: boolean } {
    return { other: true };
  }
}

const controllers = [CheckoutController, OtherController];

@Module({
  imports: [PostHogFlagsModule.forRoot({ projectApiKey: 'phc_consumer', definitions, distinctId })],
  controllers,
})
export class AppModule {}

// Shared mode as in production: this app's own Redis client (`{ client }`), a secret key so this
// process can lead, PostHog at `host` (check.sh's fake PostHog).
export function sharedAppModule(shared: {
  client: Awaited<ReturnType<typeof connectRedis>>['client'];
  host: string;
  projectApiKey: string;
  secretKey: string;
}): Type {
  const { client, ...posthog } = shared;
  @Module({
    imports: [
      PostHogFlagsModule.forRoot({
        ...posthog,
        redis: { client },
        pollingIntervalMs: 5_000, // a 15 s lease: a loaded CI machine cannot stall it away
        distinctId,
      }),
    ],
    controllers,
  })
  class SharedAppModule {}
  return SharedAppModule;
}

// What a user's own tests do: the global testing module in place of forRoot, flags from a map.
@Module({
  imports: [PostHogFlagsTestingModule.forRoot({ flags: { 'new-checkout': false }, distinctId })],
  controllers,
})
export class TestingAppModule {}
