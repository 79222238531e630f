import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ConfigurableModuleClass } from './posthog-flags.module-definition.js';
import { postHogFlagsExports, postHogFlagsProviders } from './posthog-flags.providers.js';

/**
 * PostHog feature flags with local evaluation, shared between processes through Redis.
 *
 * @example
 * PostHogFlagsModule.forRoot({ projectApiKey: 'phc_…', secretKey: process.env.POSTHOG_SECRET_KEY, redis: process.env.REDIS_URL })
 */
@Module({
  imports: [TerminusModule, DiscoveryModule],
  providers: postHogFlagsProviders,
  exports: postHogFlagsExports,
})
export class PostHogFlagsModule extends ConfigurableModuleClass {}
