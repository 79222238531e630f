import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { FeatureFlagRouteGuard } from './gate/feature-flag-route.guard.js';
import {
  FEATURE_FLAG_METADATA,
  GUARDS_METADATA,
  SKIP_FEATURE_FLAG_METADATA,
} from './posthog-flags.internal-constants.js';

export interface FeatureFlagOptions {
  /** Require one of these variants (a multivariate flag), not just "enabled". */
  variant?: string | string[];
}

/** One `@FeatureFlag()` as stored in metadata. */
export interface FeatureFlagRequirement {
  key: string;
  variants?: readonly string[];
}

/**
 * Gates a controller or a route on a feature flag; applies the app's `FeatureFlagGuard` itself. Stack several
 * to require all of them; a handler's requirement overrides its class's for the same key.
 *
 * @example
 * @FeatureFlag('new-checkout')
 * @FeatureFlag('pricing-page', { variant: ['test-a', 'test-b'] })
 */
export function FeatureFlag(
  key: string,
  options: FeatureFlagOptions = {},
): ClassDecorator & MethodDecorator {
  if (typeof key !== 'string' || key === '') {
    throw new TypeError('@FeatureFlag() needs a flag key (a non-empty string)');
  }
  const variants =
    options.variant === undefined
      ? undefined
      : Object.freeze(Array.isArray(options.variant) ? [...options.variant] : [options.variant]);
  const requirement: FeatureFlagRequirement = Object.freeze({ key, variants });
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const metadataTarget = descriptor ? descriptor.value : target;
    const existing: FeatureFlagRequirement[] =
      Reflect.getMetadata(FEATURE_FLAG_METADATA, metadataTarget) ?? [];
    Reflect.defineMetadata(
      FEATURE_FLAG_METADATA,
      [...existing.filter((r) => r.key !== key), requirement],
      metadataTarget,
    );
    // One guard per target, however many flags are stacked on it. It runs the app's guard.
    const guards: unknown[] = Reflect.getMetadata(GUARDS_METADATA, metadataTarget) ?? [];
    if (!guards.includes(FeatureFlagRouteGuard)) {
      if (descriptor) UseGuards(FeatureFlagRouteGuard)(target, propertyKey!, descriptor);
      else UseGuards(FeatureFlagRouteGuard)(target as Function);
    }
  };
}

/** Exempts a handler from its controller's `@FeatureFlag()`s (its own still apply). */
export function SkipFeatureFlag(): MethodDecorator {
  return applyDecorators(SetMetadata(SKIP_FEATURE_FLAG_METADATA, true)) as MethodDecorator;
}
