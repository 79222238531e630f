import { Inject } from '@nestjs/common';
import { POSTHOG_CLIENT, POSTHOG_FLAGS_REDIS } from './posthog-flags.constants.js';

/** Injects the module's `posthog-node` client (for `capture` and the rest). */
export const InjectPostHog = (): PropertyDecorator & ParameterDecorator => Inject(POSTHOG_CLIENT);

/** Injects the module's Redis client (`null` without `redis`). */
export const InjectPostHogFlagsRedis = (): PropertyDecorator & ParameterDecorator =>
  Inject(POSTHOG_FLAGS_REDIS);
