import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FlagEvaluationContext } from './evaluation/evaluation-context.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
import type { FeatureFlagRequirement } from './feature-flag.decorator.js';
import { FeatureFlagGate, type RouteRequirements } from './gate/feature-flag-gate.js';
import { transportDenial, transportDenialsReady } from './gate/transport-denials.js';
import { requestFlagsOf, requestFromContext, setRequestFlags } from './request-flags.js';

/**
 * The guard behind `@FeatureFlag()`: evaluates the route's flags for the caller (at most one SDK
 * call, none on a memo hit) and denies (fail closed) when a flag is off, undetermined, or on
 * another variant. A pass counts for one call only; a denial is never remembered.
 *
 * Subclass it to change how the caller is found (`getRequest`, `getDistinctId`,
 * `getEvaluationContext`), when gating is skipped (`shouldSkip`) or how a denial looks
 * (`onDenied`), and name the subclass in the module's `guard` option.
 */
@Injectable()
export class FeatureFlagGuard implements CanActivate {
  constructor(protected readonly gate: FeatureFlagGate) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const type = context.getType<string>();
    if (this.constructor !== FeatureFlagGuard) this.gate.observe(type, this);
    const route = this.gate.requirementsOf(context);
    if (route.requirements.length === 0) return true;
    const request = this.getRequest(context);
    // Class- and handler-level @FeatureFlag (or an app-wide guard too) share one decision per call.
    if (this.gate.hasPassed(context)) return true;

    const skip = this.shouldSkip(context);
    if (skip === true) return this.pass(type, route, request, context, undefined);
    if (skip !== false) {
      return skip.then((skipped) =>
        skipped
          ? this.pass(type, route, request, context, undefined)
          : this.checkWhenReady(type, route, request, context),
      );
    }
    return this.checkWhenReady(type, route, request, context);
  }

  /**
   * The flags of this call's caller, found through this guard's hooks: what the guard decided for
   * this HTTP request, else evaluated (memoized). `@FlagValue()` and `@Flags()` read through this.
   */
  async flagsFor(
    context: ExecutionContext,
    keys?: readonly string[],
  ): Promise<FeatureFlagsSnapshot | undefined> {
    const request = this.getRequest(context);
    // Only an HTTP request is one call; a GraphQL context or a socket outlives every decision.
    const http = context.getType<string>() === 'http';
    const decided = http ? requestFlagsOf(request) : undefined;
    if (decided?.snapshot && (!keys || keys.every((key) => decided.snapshot!.has(key)))) {
      return decided.snapshot;
    }
    const distinctId = this.gate.orAnonymous(this.getDistinctId(request, context));
    if (distinctId === undefined) return undefined;
    const snapshot = await this.gate.evaluate(
      distinctId,
      this.getEvaluationContext(request, context),
      keys,
    );
    if (http && !decided) setRequestFlags(request, { snapshot });
    return snapshot;
  }

  /**
   * The object the caller is found on: the HTTP request, the GraphQL context's `req`, the WebSocket
   * client, the RPC context. Override it like `@nestjs/throttler`'s `getRequestResponse`.
   */
  protected getRequest(context: ExecutionContext): any {
    return requestFromContext(context);
  }

  /** The caller's distinct id: the `distinctId` option (default `req.user.id ?? req.user.sub`). */
  protected getDistinctId(request: any, _context: ExecutionContext): string | undefined {
    return this.gate.distinctIdOf(request);
  }

  /** Person properties, groups and group properties from the options. */
  protected getEvaluationContext(
    request: any,
    _context: ExecutionContext,
  ): FlagEvaluationContext | undefined {
    return this.gate.evaluationContextOf(request);
  }

  /** True lets the call through without gating (health checks, internal callers). */
  protected shouldSkip(_context: ExecutionContext): boolean | Promise<boolean> {
    return false;
  }

  /**
   * Throws the denial: the `deniedStatus` factory's exception, else shaped for the transport —
   * 404/403 HTTP exception, a GraphQL error with `extensions.code` NOT_FOUND/FORBIDDEN, a
   * `WsException`, an `RpcException`.
   */
  protected onDenied(
    flagKey: string,
    distinctId: string | undefined,
    request: any,
    context: ExecutionContext,
  ): never {
    const denied = this.gate.deniedStatus;
    const transport = context.getType<string>();
    if (typeof denied === 'function') throw denied({ flagKey, distinctId, request, transport });
    throw transportDenial(transport, denied);
  }

  /** Whether one requirement passes for this snapshot. */
  protected passes(snapshot: FeatureFlagsSnapshot, requirement: FeatureFlagRequirement): boolean {
    const value = snapshot.getFlag(requirement.key);
    if (requirement.variants)
      return typeof value === 'string' && requirement.variants.includes(value);
    return value !== undefined && value !== false;
  }

  /** The first gated socket message or RPC call loads that transport's exception class. */
  private checkWhenReady(
    type: string,
    route: RouteRequirements,
    request: any,
    context: ExecutionContext,
  ): boolean | Promise<boolean> {
    const denialsReady = transportDenialsReady(type);
    if (denialsReady) return denialsReady.then(() => this.check(route, request, context));
    return this.check(route, request, context);
  }

  private check(
    route: RouteRequirements,
    request: any,
    context: ExecutionContext,
  ): boolean | Promise<boolean> {
    const distinctId = this.gate.orAnonymous(this.getDistinctId(request, context));
    if (distinctId === undefined) {
      return this.onDenied(route.requirements[0].key, undefined, request, context);
    }
    const evaluationContext = this.getEvaluationContext(request, context);
    const remembered = this.gate.peek(distinctId, evaluationContext, route.keys);
    if (remembered) return this.decide(remembered, route, request, context);
    return this.gate
      .evaluate(distinctId, evaluationContext, route.keys)
      .then((snapshot) => this.decide(snapshot, route, request, context));
  }

  private decide(
    snapshot: FeatureFlagsSnapshot,
    route: RouteRequirements,
    request: any,
    context: ExecutionContext,
  ): true {
    for (const requirement of route.requirements) {
      const passes = this.passes(snapshot, requirement);
      this.gate.record(requirement.key, passes);
      if (!passes) this.onDenied(requirement.key, snapshot.distinctId, request, context);
    }
    return this.pass(context.getType<string>(), route, request, context, snapshot);
  }

  /**
   * Remembers a pass for this call only, on the call's ExecutionContext, which every guard of the
   * call shares. An HTTP request is one call: on handlers that read flags it also keeps the
   * snapshot for their `@FlagValue()` parameters (a `WeakMap` entry per request, ~1.5 µs, which
   * other routes do without).
   */
  private pass(
    type: string,
    route: RouteRequirements,
    request: any,
    context: ExecutionContext,
    snapshot: FeatureFlagsSnapshot | undefined,
  ): true {
    this.gate.markPassed(context);
    if (type === 'http' && route.readsFlags) setRequestFlags(request, { snapshot });
    return true;
  }
}
