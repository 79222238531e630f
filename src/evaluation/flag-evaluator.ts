import { Injectable, Logger } from '@nestjs/common';
import { DefinitionsGeneration } from '../definitions-generation.js';
import { FlagsRuntime } from '../posthog-flags.runtime.js';
import {
  evaluationKey,
  type FlagEvaluationContext,
  type FeatureFlagValue,
} from './evaluation-context.js';
import { FeatureFlagsSnapshot, type EvaluationRecord } from './feature-flags-snapshot.js';

/** Results of time-dependent flags are kept this long at most. */
export const TIME_DEPENDENT_MEMO_MS = 1_000;

interface MemoEntry {
  generation: number;
  expiresAt: number;
  record: EvaluationRecord;
}

const NOT_READY: EvaluationRecord = Object.freeze({
  values: {},
  payloads: {},
  exposed: new Set<string>(),
}) as EvaluationRecord;

/**
 * Evaluates flags with posthog-node's `evaluateFlags()` and memoizes the results per
 * (definitions generation, distinct id, properties, keys), so a warm request costs a map lookup
 * instead of the SDK's ~75 µs of hashing. Memo entries die with the definitions they came from.
 */
@Injectable()
export class FlagEvaluator {
  /** Calls made to `posthog.evaluateFlags()` (for tests and metrics). */
  sdkEvaluations = 0;
  private readonly logger = new Logger('PostHogFlags');
  private readonly memo = new Map<string, MemoEntry>();
  private memoGeneration = -1;
  private readonly warnedUnknown = new Set<string>();

  constructor(
    private readonly runtime: FlagsRuntime,
    private readonly generation: DefinitionsGeneration,
  ) {}

  /** A memoized result, synchronously, or undefined on a miss. */
  peek(
    distinctId: string,
    context: FlagEvaluationContext | undefined,
    flagKeys: readonly string[] | undefined,
  ): FeatureFlagsSnapshot | undefined {
    if (this.generation.value !== this.memoGeneration) return undefined;
    const entry = this.memo.get(evaluationKey(distinctId, context, flagKeys));
    if (!entry || entry.expiresAt < Date.now()) return undefined;
    return new FeatureFlagsSnapshot(distinctId, entry.record, this.sendEvents);
  }

  /** Evaluates (or recalls) the given flags, or every flag when `flagKeys` is omitted. Never throws. */
  async evaluate(
    distinctId: string,
    context?: FlagEvaluationContext,
    flagKeys?: readonly string[],
  ): Promise<FeatureFlagsSnapshot> {
    const remembered = this.peek(distinctId, context, flagKeys);
    if (remembered) return remembered;
    const { options, status, posthog } = this.runtime;
    // Local evaluation before the first load would wait on the SDK's fetch: a request must not.
    if (options.mode !== 'remote' && !status.loaded) {
      return new FeatureFlagsSnapshot(distinctId, NOT_READY, false, false);
    }
    const generation = this.generation.value;
    let record: EvaluationRecord;
    try {
      this.sdkEvaluations++;
      const evaluations = await posthog.evaluateFlags(distinctId, {
        ...context,
        flagKeys: flagKeys ? [...flagKeys] : undefined,
        onlyEvaluateLocally: options.mode === 'remote' ? false : options.onlyEvaluateLocally,
      });
      record = toRecord(evaluations, flagKeys);
    } catch (error) {
      this.logger.warn(`Flag evaluation failed: ${this.runtime.redactor.error(error)}`);
      return new FeatureFlagsSnapshot(distinctId, NOT_READY, false, false);
    }
    // A failed remote call leaves every flag out: it is not unknown (the breaker logs the cause).
    if (options.mode !== 'remote' || status.loaded) this.warnUnknown(flagKeys, record.values);
    // Remote results are never memoized: PostHog may answer differently at any moment.
    if (options.mode !== 'remote' && generation === this.generation.value) {
      this.remember(evaluationKey(distinctId, context, flagKeys), record, flagKeys, generation);
    }
    return new FeatureFlagsSnapshot(distinctId, record, this.sendEvents);
  }

  private get sendEvents(): boolean {
    return this.runtime.options.sendFeatureFlagEvents;
  }

  private remember(
    key: string,
    record: EvaluationRecord,
    flagKeys: readonly string[] | undefined,
    generation: number,
  ): void {
    const capacity = this.runtime.options.evaluationCacheSize;
    if (capacity === 0) return;
    if (generation !== this.memoGeneration) {
      this.memo.clear();
      this.memoGeneration = generation;
    }
    if (this.memo.size >= capacity) this.memo.delete(this.memo.keys().next().value!);
    const timeDependent = this.generation.timeDependentKeys;
    const expires =
      timeDependent.size > 0 &&
      (flagKeys ?? Object.keys(record.values)).some((k) => timeDependent.has(k));
    this.memo.set(key, {
      generation,
      expiresAt: expires ? Date.now() + TIME_DEPENDENT_MEMO_MS : Number.POSITIVE_INFINITY,
      record,
    });
  }

  private warnUnknown(
    flagKeys: readonly string[] | undefined,
    values: Record<string, FeatureFlagValue>,
  ): void {
    for (const key of flagKeys ?? []) {
      if (key in values || this.warnedUnknown.has(key) || this.warnedUnknown.size > 1_000) continue;
      this.warnedUnknown.add(key);
      this.logger.warn(`Unknown feature flag "${key}": treated as off`);
    }
  }
}

function toRecord(
  evaluations: Awaited<ReturnType<FlagsRuntime['posthog']['evaluateFlags']>>,
  flagKeys: readonly string[] | undefined,
): EvaluationRecord {
  const values: Record<string, FeatureFlagValue> = {};
  const payloads: Record<string, unknown> = {};
  for (const key of flagKeys ?? evaluations.keys) {
    // Read without events: exposures are sent when the app reads a value.
    const value = evaluations.getFlag(key, { sendFeatureFlagEvents: false });
    if (value === undefined) continue;
    values[key] = value;
    const payload = evaluations.getFlagPayload(key);
    if (payload !== undefined) payloads[key] = payload;
  }
  return { values, payloads, evaluations, exposed: new Set() };
}
