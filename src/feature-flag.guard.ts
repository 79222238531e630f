import {
  ForbiddenException,
  Injectable,
  NotFoundException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FlagEvaluationContext } from './evaluation/evaluation-context.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
import { FlagEvaluator } from './evaluation/flag-evaluator.js';
import type { FeatureFlagRequirement } from './feature-flag.decorator.js';
import {
  distinctIdOf,
  evaluationContextOf,
  idOrAnonymous,
  requestFlagsOf,
  requestFromContext,
  setRequestFlags,
  type RequestFlags,
} from './request-flags.js';
import {
  FEATURE_FLAG_METADATA,
  SKIP_FEATURE_FLAG_METADATA,
} from './posthog-flags.internal-constants.js';
import { FlagsRuntime } from './posthog-flags.runtime.js';

interface RouteRequirements {
  requirements: readonly FeatureFlagRequirement[];
  /** Sorted keys: one memo entry serves every route needing the same flags. */
  keys: readonly string[];
}

/**
 * The guard behind `@FeatureFlag()`: evaluates the route's flags for the request's user (at most one
 * SDK call, none on a memo hit), leaves the result on the request, and denies (fail closed) when a
 * flag is off, undetermined, or on another variant. Subclass it to change how the user is found or
 * how a denial looks.
 */
@Injectable()
export class FeatureFlagGuard implements CanActivate {
  /** Requirements per handler and controller (an inherited handler may sit under several). */
  private readonly routes = new WeakMap<Function, WeakMap<Function, RouteRequirements>>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly evaluator: FlagEvaluator,
    protected readonly runtime: FlagsRuntime,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routeRequirements(context);
    if (route.requirements.length === 0) return true;
    const request = this.getRequest(context);
    const handler = context.getHandler();
    // Class- and handler-level @FeatureFlag both install this guard: decide once per request.
    if (requestFlagsOf(request)?.decidedFor === handler) return true;

    const distinctId = idOrAnonymous(this.runtime.options, this.getDistinctId(request, context));
    if (distinctId === undefined) {
      return this.onDenied(route.requirements[0].key, undefined, request, context);
    }
    const evaluationContext = this.getEvaluationContext(request, context);
    const remembered = this.evaluator.peek(distinctId, evaluationContext, route.keys);
    if (remembered) return this.decide(remembered, route, request, context, handler);
    return this.evaluator
      .evaluate(distinctId, evaluationContext, route.keys)
      .then((snapshot) => this.decide(snapshot, route, request, context, handler));
  }

  /** The object the decision is stored on: the HTTP request, or the RPC/WebSocket/GraphQL equivalent. */
  protected getRequest(context: ExecutionContext): any {
    return requestFromContext(context);
  }

  /** The user's distinct id from the `distinctId` option (default `req.user.id ?? req.user.sub`). */
  protected getDistinctId(request: any, _context: ExecutionContext): string | undefined {
    return distinctIdOf(this.runtime.options, request);
  }

  /** Person properties, groups and group properties from the resolver options. */
  protected getEvaluationContext(
    request: any,
    _context: ExecutionContext,
  ): FlagEvaluationContext | undefined {
    return evaluationContextOf(this.runtime.options, request);
  }

  /** Throws the configured denial: 404 by default, 403, or the app's own exception. */
  protected onDenied(
    flagKey: string,
    distinctId: string | undefined,
    request: any,
    _context: ExecutionContext,
  ): never {
    const denied = this.runtime.options.deniedStatus;
    if (typeof denied === 'function') throw denied({ flagKey, distinctId, request });
    throw denied === 403 ? new ForbiddenException() : new NotFoundException();
  }

  /** Whether one requirement passes for this snapshot. */
  protected passes(snapshot: FeatureFlagsSnapshot, requirement: FeatureFlagRequirement): boolean {
    const value = snapshot.getFlag(requirement.key);
    if (requirement.variants)
      return typeof value === 'string' && requirement.variants.includes(value);
    return value !== undefined && value !== false;
  }

  private decide(
    snapshot: FeatureFlagsSnapshot,
    route: RouteRequirements,
    request: any,
    context: ExecutionContext,
    handler: Function,
  ): boolean {
    const flags: RequestFlags = { snapshot, decidedFor: handler };
    setRequestFlags(request, flags);
    const status = this.runtime.status;
    for (const requirement of route.requirements) {
      const passes = this.passes(snapshot, requirement);
      if (status.hasListeners) {
        status.emit('evaluation', { flagKey: requirement.key, enabled: passes, denied: !passes });
      }
      if (!passes) this.onDenied(requirement.key, snapshot.distinctId, request, context);
    }
    return true;
  }

  private routeRequirements(context: ExecutionContext): RouteRequirements {
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
    const route = { requirements, keys: requirements.map((r) => r.key).sort() };
    if (!byController) this.routes.set(handler, (byController = new WeakMap()));
    byController.set(controller, route);
    return route;
  }
}
