import {
  createParamDecorator,
  Injectable,
  type ExecutionContext,
  type PipeTransform,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { FeatureFlagKey } from './feature-flag-keys.js';
import { FeatureFlagGuard } from './feature-flag.guard.js';
import { resolveAppGuard } from './gate/app-guard.js';
import { FeatureFlagGate } from './gate/feature-flag-gate.js';
import { READS_FLAGS_METADATA } from './posthog-flags.internal-constants.js';

export interface FlagValueOptions {
  /** Return the flag's JSON payload instead of its value. */
  payload?: boolean;
}

interface FlagParameter {
  context: ExecutionContext;
  key?: FeatureFlagKey;
  payload: boolean;
}

const flagParameter = createParamDecorator(
  (
    data: { key?: FeatureFlagKey; payload?: boolean } | undefined,
    context: ExecutionContext,
  ): FlagParameter => ({ context, key: data?.key, payload: data?.payload === true }),
);

/**
 * Turns a `FlagParameter` into the value, finding the caller through the app's guard hooks (the
 * `guard` option, else the subclass seen deciding, else `FeatureFlagGuard`): what the guard decided
 * for this HTTP request, else evaluated (memoized).
 */
@Injectable()
export class FlagParameterPipe implements PipeTransform<FlagParameter> {
  private readonly baseGuard: FeatureFlagGuard;
  private appGuard?: FeatureFlagGuard;

  constructor(
    private readonly gate: FeatureFlagGate,
    private readonly moduleRef: ModuleRef,
  ) {
    this.baseGuard = new FeatureFlagGuard(gate);
  }

  async transform({ context, key, payload }: FlagParameter): Promise<unknown> {
    // Resolved on first use, in the module using @FlagValue (where the guard's dependencies are).
    if (this.gate.configuredGuard)
      this.appGuard ??= await resolveAppGuard(this.gate, this.moduleRef);
    const guard =
      this.appGuard ??
      (this.gate.observedGuard(context.getType<string>()) as FeatureFlagGuard | undefined);
    const snapshot = await (guard ?? this.baseGuard).flagsFor(context, key ? [key] : undefined);
    if (key === undefined) return snapshot;
    if (!snapshot) return payload ? undefined : false;
    return payload ? snapshot.getPayload(key) : (snapshot.getFlag(key) ?? false);
  }
}

/**
 * The value of one flag for this caller (`true`/`false`/variant), or its payload with
 * `{ payload: true }`: what the guard decided for this HTTP request, else evaluated (memoized).
 *
 * @example
 * checkout(@FlagValue('pricing') variant: string | boolean) {}
 */
export function FlagValue(key: FeatureFlagKey, options: FlagValueOptions = {}): ParameterDecorator {
  return readsFlags(flagParameter({ key, payload: options.payload }, FlagParameterPipe));
}

/** The caller's `FeatureFlagsSnapshot`: the guard's, or every flag evaluated (undefined without a user). */
export function Flags(): ParameterDecorator {
  return readsFlags(flagParameter({}, FlagParameterPipe));
}

/**
 * Marks the handler so that its guard keeps the snapshot it decided with: the parameter then
 * reads what the guard saw, even if the definitions change in between. Elsewhere the guard keeps
 * nothing per request (a WeakMap entry per request measured ~1 µs, a third of the guard's cost).
 */
function readsFlags(parameter: ParameterDecorator): ParameterDecorator {
  return (target, propertyKey, index) => {
    const handler: unknown = propertyKey === undefined ? undefined : target[propertyKey as never];
    if (typeof handler === 'function') Reflect.defineMetadata(READS_FLAGS_METADATA, true, handler);
    parameter(target, propertyKey, index);
  };
}
