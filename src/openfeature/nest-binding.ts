import type { OnModuleInit, Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { PostHogFlagsProvider } from './posthog-flags.provider.js';

class ProviderBinding implements OnModuleInit {
  constructor(
    private readonly provider: PostHogFlagsProvider,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    this.provider.attach(this.moduleRef);
  }
}

/**
 * A Nest provider that binds `provider` to the app's `PostHogFlagsModule` once every module is
 * built: for a provider that must exist before the app, as `OpenFeatureModule.forRoot` wants it.
 *
 * @example
 * providers: [attachPostHogFlagsProvider(flagsProvider)]
 */
export function attachPostHogFlagsProvider(provider: PostHogFlagsProvider): Provider {
  return {
    // One token per binding: an app may bind several providers (one per OpenFeature domain).
    provide: Symbol('PostHogFlagsProviderBinding'),
    inject: [ModuleRef],
    useFactory: (moduleRef: ModuleRef) => new ProviderBinding(provider, moduleRef),
  };
}
