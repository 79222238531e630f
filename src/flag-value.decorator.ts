import {
  createParamDecorator,
  Injectable,
  type ExecutionContext,
  type PipeTransform,
} from '@nestjs/common';
import { FlagEvaluator } from './evaluation/flag-evaluator.js';
import {
  distinctIdOf,
  evaluationContextOf,
  idOrAnonymous,
  requestFlagsOf,
  requestFromContext,
  setRequestFlags,
} from './request-flags.js';
import { FlagsRuntime } from './posthog-flags.runtime.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';

export interface FlagValueOptions {
  /** Return the flag's JSON payload instead of its value. */
  payload?: boolean;
}

interface FlagParameter {
  request: any;
  key?: string;
  payload: boolean;
}

const flagParameter = createParamDecorator(
  (
    data: { key?: string; payload?: boolean } | undefined,
    context: ExecutionContext,
  ): FlagParameter => ({
    request: requestFromContext(context),
    key: data?.key,
    payload: data?.payload === true,
  }),
);

/**
 * Turns a `FlagParameter` into the value: from what the guard decided for this request, else
 * evaluated once on demand (and kept on the request).
 */
@Injectable()
export class FlagParameterPipe implements PipeTransform<FlagParameter> {
  constructor(
    private readonly evaluator: FlagEvaluator,
    private readonly runtime: FlagsRuntime,
  ) {}

  async transform({ request, key, payload }: FlagParameter): Promise<unknown> {
    const snapshot = await this.snapshotFor(request, key);
    if (key === undefined) return snapshot;
    if (!snapshot) return payload ? undefined : false;
    return payload ? snapshot.getPayload(key) : (snapshot.getFlag(key) ?? false);
  }

  private async snapshotFor(
    request: any,
    key: string | undefined,
  ): Promise<FeatureFlagsSnapshot | undefined> {
    const decided = requestFlagsOf(request);
    if (decided && (key === undefined || decided.snapshot.has(key))) return decided.snapshot;
    const { options } = this.runtime;
    const distinctId = idOrAnonymous(options, distinctIdOf(options, request));
    if (distinctId === undefined) return undefined;
    const context = evaluationContextOf(options, request);
    const snapshot = await this.evaluator.evaluate(distinctId, context, key ? [key] : undefined);
    if (!decided) setRequestFlags(request, { snapshot });
    return snapshot;
  }
}

/**
 * The value of one flag for this request (`true`/`false`/variant), or its payload with
 * `{ payload: true }`: what the guard decided, or evaluated once when the route has no guard.
 *
 * @example
 * checkout(@FlagValue('pricing') variant: string | boolean) {}
 */
export function FlagValue(key: string, options: FlagValueOptions = {}): ParameterDecorator {
  return flagParameter({ key, payload: options.payload }, FlagParameterPipe);
}

/** The request's `FeatureFlagsSnapshot`: the guard's, or every flag evaluated once (undefined without a user). */
export function Flags(): ParameterDecorator {
  return flagParameter({}, FlagParameterPipe);
}
