import { Inject, Injectable, type ExecutionContext, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FlagEvaluationContext } from '../evaluation/evaluation-context.js';
import type { FeatureFlagsSnapshot } from '../evaluation/feature-flags-snapshot.js';
import { FlagEvaluator } from '../evaluation/flag-evaluator.js';
import type { FeatureFlagRequirement } from '../feature-flag.decorator.js';
import type { PostHogFlagsModuleOptions } from '../posthog-flags-options.interface.js';
import { FlagsStatusTracker } from '../flags-status.js';
import type { ResolvedPostHogFlagsOptions } from '../posthog-flags-options.resolve.js';
import {
  FEATURE_FLAG_METADATA,
  READS_FLAGS_METADATA,
  RESOLVED_OPTIONS,
  SKIP_FEATURE_FLAG_METADATA,
} from '../posthog-flags.internal-constants.js';
import { distinctIdOf, evaluationContextOf, idOrAnonymous } from '../request-flags.js';

/** On an ExecutionContext a flag guard let through (see `markPassed`). */
const PASSED_CALL = Symbol('nestjs-posthog-flags:passed');

/** The `@FeatureFlag()` requirements of one route (class and handler merged). */
export interface RouteRequirements {
  readonly requirements: readonly FeatureFlagRequirement[];
  /** Sorted keys: one memo entry serves every route needing the same flags. */
  readonly keys: readonly string[];
  /** The handler has `@FlagValue()` / `@Flags()` parameters: a pass keeps its snapshot for them. */
  readonly readsFlags: boolean;
}

/**
 * What `FeatureFlagGuard` needs from the module, behind one injectable so that a subclass adding its
 * own dependencies only has to pass this one on: `constructor(gate: FeatureFlagGate, mine: Mine) { super(gate); }`.
 */
@Injectable()
export class FeatureFlagGate {
  /** Requirements per handler and controller (an inherited handler may sit under several). */
  private readonly routes = new WeakMap<Function, WeakMap<Function, RouteRequirements>>();
  /** Per context type: an app may gate sockets and messages with different subclasses. */
  private readonly observed: Record<string, object | undefined> = {};

  constructor(
    private readonly reflector: Reflector,
    private readonly evaluator: FlagEvaluator,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedPostHogFlagsOptions,
    private readonly status: FlagsStatusTracker,
  ) {}

  /** The route's requirements, read once per (handler, class). */
  requirementsOf(context: ExecutionContext): RouteRequirements {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byController = this.routes.get(handler);
    const cached = byController?.get(controller);
    if (cached) return cached;
    const skipClass = this.reflector.get<boolean>(SKIP_FEATURE_FLAG_METADATA, handler) === true;
    const fromClass: FeatureFlagRequirement[] = skipClass
      ? []
      : (this.reflector.get(FEATURE_FLAG_METADATA, controller) ?? []);
    const fromHandler: FeatureFlagRequirement[] =
      this.reflector.get(FEATURE_FLAG_METADATA, handler) ?? [];
    const byKey = new Map<string, FeatureFlagRequirement>();
    for (const requirement of [...fromClass, ...fromHandler])
      byKey.set(requirement.key, requirement);
    const requirements = [...byKey.values()];
    const route = {
      requirements,
      keys: requirements.map((r) => r.key).sort(),
      readsFlags: this.reflector.get<boolean>(READS_FLAGS_METADATA, handler) === true,
    };
    if (!byController) this.routes.set(handler, (byController = new WeakMap()));
    byController.set(controller, route);
    return route;
  }

  /** The `distinctId` option's answer for this request, if any. */
  distinctIdOf(request: unknown): string | undefined {
    return distinctIdOf(this.options, request);
  }

  /** The id to evaluate with: this one, else the anonymous id when configured, else none (deny). */
  orAnonymous(distinctId: string | undefined): string | undefined {
    return idOrAnonymous(this.options, distinctId);
  }

  /** Person properties, groups and group properties from the module options. */
  evaluationContextOf(request: unknown): FlagEvaluationContext | undefined {
    return evaluationContextOf(this.options, request);
  }

  /** A memoized evaluation, synchronously, or undefined on a miss. */
  peek(
    distinctId: string,
    context: FlagEvaluationContext | undefined,
    keys: readonly string[] | undefined,
  ): FeatureFlagsSnapshot | undefined {
    return this.evaluator.peek(distinctId, context, keys);
  }

  /** Evaluates (or recalls) the flags; never throws. */
  evaluate(
    distinctId: string,
    context: FlagEvaluationContext | undefined,
    keys: readonly string[] | undefined,
  ): Promise<FeatureFlagsSnapshot> {
    return this.evaluator.evaluate(distinctId, context, keys);
  }

  /** Counts one gate decision (for metrics); free while nobody listens. */
  record(flagKey: string, passes: boolean): void {
    const status = this.status;
    if (status.hasListeners)
      status.emit('evaluation', { flagKey, enabled: passes, denied: !passes });
  }

  get deniedStatus(): NonNullable<PostHogFlagsModuleOptions['deniedStatus']> {
    return this.options.deniedStatus;
  }

  /** The `guard` option: the app's `FeatureFlagGuard` subclass, if it named one. */
  get configuredGuard(): Type<object> | undefined {
    return this.options.guard;
  }

  /**
   * Marks a call as let through, on its ExecutionContext: every guard of one call shares that
   * object, and it lives no longer than the call (a GraphQL context or a socket outlives it). A
   * property, not a weak collection with an entry per request (a WeakMap entry measured ~1.5 µs in
   * a loop, a WeakSet entry ~0.2 µs; the bench could not tell the WeakSet and the property apart).
   */
  markPassed(context: ExecutionContext): void {
    (context as unknown as Record<symbol, boolean>)[PASSED_CALL] = true;
  }

  hasPassed(context: ExecutionContext): boolean {
    return (context as unknown as Record<symbol, boolean>)[PASSED_CALL] === true;
  }

  /**
   * Notes the first subclass seen deciding on this context type: `@FlagValue()` there uses its hooks
   * when no `guard` option names one.
   */
  observe(type: string, guard: object): void {
    this.observed[type] ??= guard;
  }

  observedGuard(type: string): object | undefined {
    return this.observed[type];
  }
}
