import { Logger, type ExecutionContext } from '@nestjs/common';
import type { FlagEvaluationContext } from './evaluation/evaluation-context.js';
import { acceptDistinctId, UNRESOLVABLE_CONTEXT } from './evaluation/evaluation-input.js';
import { errorSummary, RateLimitedWarning } from './evaluation/rate-limited-warning.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
import type { ResolvedPostHogFlagsOptions } from './posthog-flags-options.resolve.js';

/** What the guard (or an on-demand read) left on a request. */
export interface RequestFlags {
  /** Absent when a guard's `shouldSkip` let the request through unevaluated. */
  snapshot?: FeatureFlagsSnapshot;
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

/** Warnings about the resolver options, per app (its resolved options), one line a minute each. */
const resolverWarnings = new WeakMap<object, Record<'threw' | 'refused', RateLimitedWarning>>();
const logger = new Logger('PostHogFlags');

function warningsFor(options: ResolvedPostHogFlagsOptions) {
  let warnings = resolverWarnings.get(options);
  if (!warnings) {
    warnings = { threw: new RateLimitedWarning(logger), refused: new RateLimitedWarning(logger) };
    resolverWarnings.set(options, warnings);
  }
  return warnings;
}

/** Requests whose `distinctId` resolver threw: denied even when anonymous evaluation is on. */
const unresolvedRequests = new WeakSet<object>();

/**
 * The distinct id the `distinctId` option gives for this request, if any: a non-empty string or a
 * finite number within `maxDistinctIdLength`; anything else counts as missing.
 */
export function distinctIdOf(
  options: ResolvedPostHogFlagsOptions,
  request: any,
): string | undefined {
  let raw: unknown;
  try {
    raw = options.distinctId(request);
  } catch (error) {
    if (request && typeof request === 'object') unresolvedRequests.add(request);
    warningsFor(options).threw.warn(
      () => `The distinctId resolver threw (${errorSummary(error)}): request denied`,
    );
    return undefined;
  }
  if (raw === undefined || raw === null || raw === '') return undefined;
  const id = acceptDistinctId(raw, options.maxDistinctIdLength);
  if (id === undefined) {
    warningsFor(options).refused.warn(
      () =>
        `Refused a distinct id (${describeRefused(raw, options.maxDistinctIdLength)}): treated as missing`,
    );
  }
  return id;
}

function describeRefused(raw: unknown, maxLength: number): string {
  if (typeof raw === 'string') return `${raw.length} characters, over ${maxLength}`;
  if (typeof raw === 'number') return 'not a finite number';
  return `a ${Array.isArray(raw) ? 'array' : typeof raw}, not a string or number`;
}

/**
 * Person properties, groups and group properties from the resolver options. A resolver that throws
 * (or a `distinctId` resolver that threw) gives `UNRESOLVABLE_CONTEXT`: every flag is denied.
 */
export function evaluationContextOf(
  options: ResolvedPostHogFlagsOptions,
  request: any,
): FlagEvaluationContext | undefined {
  if (request && typeof request === 'object' && unresolvedRequests.has(request)) {
    return UNRESOLVABLE_CONTEXT;
  }
  const { personProperties, groups, groupProperties } = options;
  if (!personProperties && !groups && !groupProperties) return undefined;
  try {
    return {
      personProperties: personProperties?.(request),
      groups: groups?.(request),
      groupProperties: groupProperties?.(request),
    };
  } catch (error) {
    warningsFor(options).threw.warn(
      () => `A flag context resolver threw (${errorSummary(error)}): request denied`,
    );
    return UNRESOLVABLE_CONTEXT;
  }
}

/** The id to evaluate with: the request's, else the anonymous id when so configured, else none (deny). */
export function idOrAnonymous(
  options: ResolvedPostHogFlagsOptions,
  distinctId: string | undefined,
): string | undefined {
  if (distinctId !== undefined) return distinctId;
  return options.onMissingDistinctId === 'anonymous' ? options.anonymousDistinctId : undefined;
}
