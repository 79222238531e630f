import type { ExecutionContext } from '@nestjs/common';
import type { FlagEvaluationContext } from './evaluation/evaluation-context.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
import type { ResolvedPostHogFlagsOptions } from './posthog-flags-options.resolve.js';

/** What the guard (or an on-demand read) left on a request. */
export interface RequestFlags {
  /** Absent when a guard's `shouldSkip` let the request through unevaluated. */
  snapshot?: FeatureFlagsSnapshot;
  /** The handler a guard let this HTTP request through to (only a pass is remembered). */
  decidedFor?: Function;
}

/**
 * Kept beside the request, not on it: adding a property to the framework's request objects
 * changes their shape, which measurably slows every later access to them in Express and Nest.
 */
const flagsByRequest = new WeakMap<object, RequestFlags>();

export function requestFlagsOf(request: any): RequestFlags | undefined {
  return request && typeof request === 'object' ? flagsByRequest.get(request) : undefined;
}

export function setRequestFlags(request: any, flags: RequestFlags): void {
  if (request && typeof request === 'object') flagsByRequest.set(request, flags);
}

/** The request object of any transport: HTTP request, RPC context, WebSocket client, GraphQL `context.req`. */
export function requestFromContext(context: ExecutionContext): any {
  switch (context.getType<string>()) {
    case 'http':
      return context.switchToHttp().getRequest();
    case 'rpc':
      return context.switchToRpc().getContext();
    case 'ws':
      return context.switchToWs().getClient();
    default:
      // GraphQL resolvers get (root, args, context, info).
      return context.getArgByIndex(2)?.req ?? context.getArgByIndex(2);
  }
}

/** The distinct id the `distinctId` option gives for this request, if any. */
export function distinctIdOf(
  options: ResolvedPostHogFlagsOptions,
  request: any,
): string | undefined {
  const id = options.distinctId(request);
  return id === undefined || id === null || id === '' ? undefined : String(id);
}

/** Person properties, groups and group properties from the resolver options. */
export function evaluationContextOf(
  options: ResolvedPostHogFlagsOptions,
  request: any,
): FlagEvaluationContext | undefined {
  const { personProperties, groups, groupProperties } = options;
  if (!personProperties && !groups && !groupProperties) return undefined;
  return {
    personProperties: personProperties?.(request),
    groups: groups?.(request),
    groupProperties: groupProperties?.(request),
  };
}

/** The id to evaluate with: the request's, else the anonymous id when so configured, else none (deny). */
export function idOrAnonymous(
  options: ResolvedPostHogFlagsOptions,
  distinctId: string | undefined,
): string | undefined {
  if (distinctId !== undefined) return distinctId;
  return options.onMissingDistinctId === 'anonymous' ? options.anonymousDistinctId : undefined;
}
