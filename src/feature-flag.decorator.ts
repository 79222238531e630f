import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import type { FeatureFlagKey, FeatureFlagVariant } from './feature-flag-keys.js';
import { FeatureFlagRouteGuard } from './gate/feature-flag-route.guard.js';
import {
  FEATURE_FLAG_METADATA,
  GUARDS_METADATA,
  SKIP_FEATURE_FLAG_METADATA,
} from './posthog-flags.internal-constants.js';

/** Options of `@FeatureFlag(key)`; once `FeatureFlagKeys` is declared, `variant` is checked against `K`'s. */
export interface FeatureFlagOptions<K extends FeatureFlagKey = FeatureFlagKey> {
  /** Require one of these variants (a multivariate flag), not just "enabled". */
  variant?: FeatureFlagVariant<K> | readonly FeatureFlagVariant<K>[];
}

/** One `@FeatureFlag()` as stored in metadata. */
export interface FeatureFlagRequirement {
  key: FeatureFlagKey;
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
export function FeatureFlag<K extends FeatureFlagKey>(
  key: K,
  options: FeatureFlagOptions<K> = {},
): ClassDecorator & MethodDecorator {
  // Checked at run time too: a key may come from plain JavaScript or a cast.
  if (typeof key !== 'string' || (key as string) === '') {
    throw new TypeError('@FeatureFlag() needs a flag key (a non-empty string)');
  }
  const wanted: string | readonly string[] | undefined = options.variant;
  const variants =
    wanted === undefined
      ? undefined
      : Object.freeze(typeof wanted === 'string' ? [wanted] : [...wanted]);
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
