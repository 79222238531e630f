import {
  Inject,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
  Logger,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PostHogFlagsHealthIndicator } from './health/posthog-flags.health.js';
import { FlagEvaluator } from './evaluation/flag-evaluator.js';
import { FeatureFlagGuard } from './feature-flag.guard.js';
import { FlagParameterPipe } from './flag-value.decorator.js';
import { ConfigurableModuleClass } from './posthog-flags.module-definition.js';
import { postHogFlagsProviders } from './posthog-flags.providers.js';
import { FlagsRuntime } from './posthog-flags.runtime.js';
import { FeatureFlagsService } from './posthog-flags.service.js';
import {
  FLAG_DEFINITION_CACHE,
  POSTHOG_CLIENT,
  POSTHOG_FLAGS_REDIS,
} from './posthog-flags.constants.js';

/**
 * PostHog feature flags with local evaluation, shared between processes through Redis.
 *
 * @example
 * PostHogFlagsModule.forRoot({ projectApiKey: 'phc_…', secretKey: process.env.POSTHOG_SECRET_KEY, redis: process.env.REDIS_URL })
 */
@Module({
  imports: [TerminusModule],
  providers: [
    ...postHogFlagsProviders,
    FlagEvaluator,
    FeatureFlagsService,
    FeatureFlagGuard,
    FlagParameterPipe,
    PostHogFlagsHealthIndicator,
  ],
  exports: [
    FeatureFlagsService,
    PostHogFlagsHealthIndicator,
    FlagParameterPipe,
    FeatureFlagGuard,
    FlagEvaluator,
    FlagsRuntime,
    POSTHOG_CLIENT,
    POSTHOG_FLAGS_REDIS,
    FLAG_DEFINITION_CACHE,
  ],
})
export class PostHogFlagsModule
  extends ConfigurableModuleClass
  implements OnModuleInit, OnApplicationShutdown
{
  private readonly logger = new Logger('PostHogFlags');

  constructor(@Inject(FlagsRuntime) private readonly runtime: FlagsRuntime) {
    super();
  }

  /** Waits for the first definitions, bounded by `startupTimeoutMs`: boot never hangs on Redis or PostHog. */
  async onModuleInit(): Promise<void> {
    const { mode, startupTimeoutMs } = this.runtime.options;
    const ready = await this.runtime.waitUntilReady(startupTimeoutMs);
    if (!ready && mode !== 'remote') {
      this.logger.warn(
        `No flag definitions after ${startupTimeoutMs} ms: flags read as off until they arrive`,
      );
    }
  }

  /** Flushes events, releases the lease, closes the connections the module opened (bounded). */
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.shutdown();
  }
}
