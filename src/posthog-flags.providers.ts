import type { Provider } from '@nestjs/common';
import { FlagChangeFeed } from './changes/flag-change-feed.js';
import { FlagChangeListeners } from './changes/flag-change-listeners.js';
import { DefinitionsGeneration } from './definitions-generation.js';
import { FlagEvaluator } from './evaluation/flag-evaluator.js';
import { FeatureFlagGuard } from './feature-flag.guard.js';
import { FlagParameterPipe } from './flag-value.decorator.js';
import { FeatureFlagGate } from './gate/feature-flag-gate.js';
import { PostHogFlagsHealthIndicator } from './health/posthog-flags.health.js';
import type { PostHogFlagsModuleOptions } from './posthog-flags-options.interface.js';
import { resolveOptions } from './posthog-flags-options.resolve.js';
import {
  FLAG_DEFINITION_CACHE,
  POSTHOG_CLIENT,
  POSTHOG_FLAGS_REDIS,
} from './posthog-flags.constants.js';
import { FlagsStatusTracker } from './flags-status.js';
import { DEFINITIONS_SOURCE, RESOLVED_OPTIONS } from './posthog-flags.internal-constants.js';
import { PostHogFlagsLifecycle } from './posthog-flags.lifecycle.js';
import { POSTHOG_FLAGS_MODULE_OPTIONS } from './posthog-flags.module-definition.js';
import { createFlagsRuntime, FlagsRuntime } from './posthog-flags.runtime.js';
import { FeatureFlagsService } from './posthog-flags.service.js';

/** The module's providers: everything derives from one runtime built from the validated options. */
export const postHogFlagsProviders: Provider[] = [
  {
    provide: RESOLVED_OPTIONS,
    inject: [POSTHOG_FLAGS_MODULE_OPTIONS],
    useFactory: (options: PostHogFlagsModuleOptions) => resolveOptions(options),
  },
  { provide: FlagsRuntime, inject: [RESOLVED_OPTIONS], useFactory: createFlagsRuntime },
  { provide: POSTHOG_CLIENT, inject: [FlagsRuntime], useFactory: (rt: FlagsRuntime) => rt.posthog },
  {
    provide: POSTHOG_FLAGS_REDIS,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.redis?.client ?? null,
  },
  {
    provide: FLAG_DEFINITION_CACHE,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.cache ?? null,
  },
  {
    provide: DefinitionsGeneration,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.generation,
  },
  // Narrow providers: inject what you use (options, status, the definitions source), not the runtime.
  {
    provide: FlagsStatusTracker,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.status,
  },
  {
    provide: DEFINITIONS_SOURCE,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.source,
  },
  PostHogFlagsLifecycle,
  FlagEvaluator,
  FlagChangeFeed,
  FlagChangeListeners,
  FeatureFlagsService,
  FeatureFlagGate,
  FeatureFlagGuard,
  FlagParameterPipe,
  PostHogFlagsHealthIndicator,
];

/** What apps (and the guard and parameter decorators in their modules) need from the module. */
export const postHogFlagsExports = [
  FeatureFlagsService,
  PostHogFlagsHealthIndicator,
  FeatureFlagGate,
  FeatureFlagGuard,
  FlagParameterPipe,
  FlagEvaluator,
  FlagsRuntime,
  RESOLVED_OPTIONS,
  FlagsStatusTracker,
  DEFINITIONS_SOURCE,
  POSTHOG_CLIENT,
  POSTHOG_FLAGS_REDIS,
  FLAG_DEFINITION_CACHE,
];
