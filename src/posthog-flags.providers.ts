import type { Provider } from '@nestjs/common';
import { DefinitionsGeneration } from './definitions-generation.js';
import { FlagsStatusTracker } from './flags-status.js';
import type { PostHogFlagsModuleOptions } from './posthog-flags-options.interface.js';
import { resolveOptions } from './posthog-flags-options.resolve.js';
import { POSTHOG_FLAGS_MODULE_OPTIONS } from './posthog-flags.module-definition.js';
import {
  FLAG_DEFINITION_CACHE,
  POSTHOG_CLIENT,
  POSTHOG_FLAGS_REDIS,
} from './posthog-flags.constants.js';
import { FLAGS_STATUS, RESOLVED_OPTIONS } from './posthog-flags.internal-constants.js';
import { createFlagsRuntime, FlagsRuntime } from './posthog-flags.runtime.js';

/** The module's providers: everything derives from one runtime built from the validated options. */
export const postHogFlagsProviders: Provider[] = [
  {
    provide: RESOLVED_OPTIONS,
    inject: [POSTHOG_FLAGS_MODULE_OPTIONS],
    useFactory: (options: PostHogFlagsModuleOptions) => resolveOptions(options),
  },
  {
    provide: FlagsRuntime,
    inject: [RESOLVED_OPTIONS],
    useFactory: createFlagsRuntime,
  },
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
  { provide: FLAGS_STATUS, inject: [FlagsRuntime], useFactory: (rt: FlagsRuntime) => rt.status },
  {
    provide: DefinitionsGeneration,
    inject: [FlagsRuntime],
    useFactory: (rt: FlagsRuntime) => rt.generation,
  },
];

export type { FlagsStatusTracker };
