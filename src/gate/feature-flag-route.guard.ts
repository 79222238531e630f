import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { FeatureFlagGuard } from '../feature-flag.guard.js';
import { GUARDS_METADATA } from '../posthog-flags.internal-constants.js';
import { resolveAppGuard } from './app-guard.js';
import { FeatureFlagGate } from './feature-flag-gate.js';

/**
 * What `@FeatureFlag()` attaches. It decides nothing itself: it runs the app's guard (the `guard`
 * option, else `FeatureFlagGuard`), and steps aside on routes where the app put its own
 * `FeatureFlagGuard` subclass with `@UseGuards()`, whichever order the decorators are in. An
 * app-wide (`APP_GUARD`) subclass runs first and its pass counts for this call.
 */
@Injectable()
export class FeatureFlagRouteGuard implements CanActivate, OnModuleInit {
  private readonly baseGuard: FeatureFlagGuard;
  private appGuard?: FeatureFlagGuard;
  private resolving?: Promise<void>;
  private readonly ownGuardByHandler = new WeakMap<Function, WeakMap<Function, boolean>>();

  constructor(
    private readonly gate: FeatureFlagGate,
    private readonly moduleRef: ModuleRef,
  ) {
    this.baseGuard = new FeatureFlagGuard(gate);
  }

  onModuleInit(): Promise<void> {
    return this.resolveAppGuard();
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.routeHasOwnGuard(context)) return true;
    if (this.appGuard) return this.appGuard.canActivate(context);
    if (this.gate.configuredGuard) {
      return this.resolveAppGuard().then(() => this.appGuard!.canActivate(context));
    }
    return this.baseGuard.canActivate(context);
  }

  private resolveAppGuard(): Promise<void> {
    return (this.resolving ??= resolveAppGuard(this.gate, this.moduleRef).then((guard) => {
      this.appGuard = guard;
    }));
  }

  private routeHasOwnGuard(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byController = this.ownGuardByHandler.get(handler);
    let own = byController?.get(controller);
    if (own === undefined) {
      own = hasFlagGuardSubclass(controller) || hasFlagGuardSubclass(handler);
      if (!byController) this.ownGuardByHandler.set(handler, (byController = new WeakMap()));
      byController.set(controller, own);
    }
    return own;
  }
}

function hasFlagGuardSubclass(target: Function): boolean {
  const guards: unknown[] = Reflect.getMetadata(GUARDS_METADATA, target) ?? [];
  return guards.some((guard) =>
    typeof guard === 'function'
      ? guard.prototype instanceof FeatureFlagGuard
      : guard instanceof FeatureFlagGuard && guard.constructor !== FeatureFlagGuard,
  );
}
