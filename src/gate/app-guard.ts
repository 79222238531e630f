import type { ModuleRef } from '@nestjs/core';
import { FeatureFlagGuard } from '../feature-flag.guard.js';
import type { FeatureFlagGate } from './feature-flag-gate.js';

/**
 * The instance of the `guard` option's class for one module: the registered provider if the app
 * made it one, else created like a `@UseGuards()` guard (its dependencies from that module).
 */
export async function resolveAppGuard(
  gate: FeatureFlagGate,
  moduleRef: ModuleRef,
): Promise<FeatureFlagGuard | undefined> {
  const guardClass = gate.configuredGuard;
  if (!guardClass) return undefined;
  let guard: unknown;
  try {
    guard = moduleRef.get(guardClass, { strict: false });
  } catch {
    guard = await moduleRef.create(guardClass);
  }
  if (!(guard instanceof FeatureFlagGuard)) {
    throw new TypeError(
      `PostHogFlagsModule's guard option must be a class extending FeatureFlagGuard (got ${guardClass.name})`,
    );
  }
  return guard;
}
