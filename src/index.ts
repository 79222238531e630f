// The public API. Anything not listed here is internal.
export { PostHogFlagsModule } from './posthog-flags.module.js';
export type {
  PostHogFlagsModuleOptions,
  PostHogFlagsOptionsFactory,
  FlagDefinitions,
  RedisConnection,
  RedisClusterConnection,
  ExistingRedisClient,
  FeatureFlagDenial,
  PersonProperties,
  Groups,
  GroupProperties,
} from './posthog-flags-options.interface.js';
export { PostHogFlagsOptionsError } from './posthog-flags-options.resolve.js';
export type { PostHogFlagsMetricsOptions } from './metrics/posthog-flags.metrics.js';
export type {
  OpenTelemetryMeter,
  PostHogFlagsOpenTelemetryOptions,
} from './metrics/posthog-flags.otel-metrics.js';
export {
  FeatureFlag,
  SkipFeatureFlag,
  type FeatureFlagOptions,
  type FeatureFlagRequirement,
} from './feature-flag.decorator.js';
export { FeatureFlagGuard } from './feature-flag.guard.js';
export { FeatureFlagGate } from './gate/feature-flag-gate.js';
export { FlagValue, Flags, type FlagValueOptions } from './flag-value.decorator.js';
export { FeatureFlagsService } from './posthog-flags.service.js';
export type { FlagDefinitionChange, FlagsChangeEvent } from './changes/flag-change.js';
export { OnFlagChange } from './changes/on-flag-change.decorator.js';
export { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
export type { FlagEvaluationContext, FeatureFlagValue } from './evaluation/evaluation-context.js';
export type { FlagsStatus, FlagsRole, FetchOutcome } from './flags-status.js';
export {
  PostHogFlagsHealthIndicator,
  type PostHogFlagsHealthOptions,
} from './health/posthog-flags.health.js';
export { InjectPostHog, InjectPostHogFlagsRedis } from './posthog-flags.decorators.js';
export {
  POSTHOG_CLIENT,
  POSTHOG_FLAGS_REDIS,
  FLAG_DEFINITION_CACHE,
} from './posthog-flags.constants.js';
export {
  RedisFlagDefinitionCache,
  type RedisFlagDefinitionCacheOptions,
} from './sources/shared/redis-flag-definition-cache.js';
export {
  PostHogFlagsTestingModule,
  type PostHogFlagsTestingOptions,
} from './testing/posthog-flags-testing.module.js';
export { PostHogFlagsTesting } from './testing/posthog-flags-testing.service.js';
export type { TestFlagMap, TestFlagValue } from './testing/flag-map.js';
