import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { bounded } from '../bounded.js';
import { DefinitionsGeneration } from '../definitions-generation.js';
import { PostHog } from 'posthog-node';
import { FlagsStatusTracker } from '../flags-status.js';
import type { ResolvedPostHogFlagsOptions } from '../posthog-flags-options.resolve.js';
import { POSTHOG_CLIENT } from '../posthog-flags.constants.js';
import { RESOLVED_OPTIONS } from '../posthog-flags.internal-constants.js';
import { Redactor } from '../redact.js';
import {
  evaluationKey,
  type FlagEvaluationContext,
  type FeatureFlagValue,
} from './evaluation-context.js';
import { acceptDistinctId, capContext, UNRESOLVABLE_CONTEXT } from './evaluation-input.js';
import { EvaluationMemo } from './evaluation-memo.js';
import { FeatureFlagsSnapshot, type EvaluationRecord } from './feature-flags-snapshot.js';
import { RateLimitedWarning } from './rate-limited-warning.js';
import { RegexSafetyChecker } from './regex-safety-checker.js';
import { RegexScreen, type UnsafeFlag } from './regex-screen.js';

/** Results of time-dependent flags are kept this long at most. */
export const TIME_DEPENDENT_MEMO_MS = 1_000;

const NOT_READY: EvaluationRecord = Object.freeze({
  values: {},
  payloads: {},
  exposed: new Set<string>(),
}) as EvaluationRecord;

/**
 * Evaluates flags with posthog-node's `evaluateFlags()` and memoizes the results per
 * (definitions generation, distinct id, properties, keys), so a warm request costs a map lookup
 * instead of the SDK's ~75 µs of hashing. Memo entries die with the definitions they came from.
 * Flags with an unsafe regex condition are never handed to the SDK (see `RegexScreen`).
 */
@Injectable()
export class FlagEvaluator implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Calls made to `posthog.evaluateFlags()` (for tests and metrics). */
  sdkEvaluations = 0;
  private readonly logger = new Logger('PostHogFlags');
  private readonly memo: EvaluationMemo;
  /** SDK evaluations under way, by memo key: later callers of the same key wait for them. */
  private readonly inFlight = new Map<
    string,
    { generation: number; snapshot: Promise<FeatureFlagsSnapshot> }
  >();
  private readonly warnedUnknown = new Set<string>();
  private readonly unknownFlood = new RateLimitedWarning(this.logger);
  private readonly checker: RegexSafetyChecker;
  private readonly screen: RegexScreen;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedPostHogFlagsOptions,
    private readonly status: FlagsStatusTracker,
    @Inject(POSTHOG_CLIENT) private readonly posthog: PostHog,
    private readonly redactor: Redactor,
    private readonly generation: DefinitionsGeneration,
  ) {
    this.memo = new EvaluationMemo(options.evaluationCacheSize, options.evaluationCacheMaxBytes);
    this.checker = new RegexSafetyChecker(options.maxPropertyLength);
    this.screen = new RegexScreen(
      (pattern) => this.checker.check(pattern),
      (newlyUnsafe, blockedChanged) => this.onScreened(newlyUnsafe, blockedChanged),
    );
    // Remote evaluation runs no regex here: PostHog's servers do.
    if (options.mode !== 'remote') {
      generation.onDefinitions((data) => {
        status.knownFlagKeys = new Set(data.flags.map((flag) => flag.key));
        this.screen.screen(data);
      });
    }
  }

  /** Memoized evaluations' estimated size in bytes, and their count. */
  get memoUsage(): { bytes: number; entries: number } {
    return { bytes: this.memo.bytes, entries: this.memo.size };
  }

  /** A memoized result, synchronously, or undefined on a miss. */
  peek(
    distinctId: string,
    context: FlagEvaluationContext | undefined,
    flagKeys: readonly string[] | undefined,
  ): FeatureFlagsSnapshot | undefined {
    if (context === UNRESOLVABLE_CONTEXT) return undefined;
    const { maxPropertyLength } = this.options;
    const key = evaluationKey(distinctId, capContext(context, maxPropertyLength), flagKeys);
    const record = this.memo.get(key, this.generation.value);
    return record && new FeatureFlagsSnapshot(distinctId, record, this.sendEvents);
  }

  /** Evaluates (or recalls) the given flags, or every flag when `flagKeys` is omitted. Never throws. */
  async evaluate(
    rawDistinctId: string,
    rawContext?: FlagEvaluationContext,
    flagKeys?: readonly string[],
  ): Promise<FeatureFlagsSnapshot> {
    const { options, status } = this;
    const distinctId = acceptDistinctId(rawDistinctId, options.maxDistinctIdLength);
    if (distinctId === undefined || rawContext === UNRESOLVABLE_CONTEXT) {
      return new FeatureFlagsSnapshot(distinctId ?? '', NOT_READY, false);
    }
    let context: FlagEvaluationContext | undefined;
    try {
      context = capContext(rawContext, options.maxPropertyLength);
    } catch {
      return new FeatureFlagsSnapshot(distinctId, NOT_READY, false);
    }
    const remembered = this.peek(distinctId, context, flagKeys);
    if (remembered) return remembered;
    // Local evaluation before the first load would wait on the SDK's fetch: a request must not.
    if (options.mode !== 'remote' && !status.loaded) {
      return new FeatureFlagsSnapshot(distinctId, NOT_READY, false, false);
    }
    // Remote results are never shared: PostHog may answer differently at any moment.
    if (options.mode === 'remote') return this.evaluateWithSdk(distinctId, context, flagKeys);
    // Calls for one caller that arrive together (a page's parallel requests, a cold memo under
    // load) share one SDK evaluation: it costs ~0.5 ms, and each would otherwise run its own.
    const key = evaluationKey(distinctId, context, flagKeys);
    const generation = this.generation.value;
    const pending = this.inFlight.get(key);
    if (pending?.generation === generation) return pending.snapshot;
    const snapshot = this.evaluateWithSdk(distinctId, context, flagKeys, key).finally(() => {
      if (this.inFlight.get(key)?.snapshot === snapshot) this.inFlight.delete(key);
    });
    this.inFlight.set(key, { generation, snapshot });
    return snapshot;
  }

  /** One `evaluateFlags()` call; its result is memoized under `memoKey` (local modes). */
  private async evaluateWithSdk(
    distinctId: string,
    context: FlagEvaluationContext | undefined,
    flagKeys: readonly string[] | undefined,
    memoKey?: string,
  ): Promise<FeatureFlagsSnapshot> {
    const { options, status, posthog } = this;
    const generation = this.generation.value;
    const askKeys = this.keysToAsk(flagKeys);
    let record: EvaluationRecord;
    try {
      if (askKeys?.length === 0) {
        record = { values: {}, payloads: {}, exposed: new Set() };
      } else {
        this.sdkEvaluations++;
        const evaluations = await posthog.evaluateFlags(distinctId, {
          ...context,
          flagKeys: askKeys,
          onlyEvaluateLocally: options.mode === 'remote' ? false : options.onlyEvaluateLocally,
        });
        record = toRecord(evaluations, askKeys);
      }
    } catch (error) {
      this.logger.warn(`Flag evaluation failed: ${this.redactor.error(error)}`);
      return new FeatureFlagsSnapshot(distinctId, NOT_READY, false, false);
    }
    // A failed remote call leaves every flag out: it is not unknown (the breaker logs the cause).
    if (options.mode !== 'remote' || status.loaded) this.warnUnknown(flagKeys, record.values);
    if (options.mode === 'remote') this.learnRemoteKeys(record.values);
    if (memoKey !== undefined && generation === this.generation.value) {
      const timeDependent = this.generation.timeDependentKeys;
      const expires =
        timeDependent.size > 0 &&
        (flagKeys ?? Object.keys(record.values)).some((k) => timeDependent.has(k));
      const expiresAt = expires ? Date.now() + TIME_DEPENDENT_MEMO_MS : Number.POSITIVE_INFINITY;
      this.memo.set(memoKey, record, generation, expiresAt);
    }
    return new FeatureFlagsSnapshot(distinctId, record, this.sendEvents);
  }

  /**
   * The app serves only once the first definitions' regex patterns are judged (bounded by
   * `startupTimeoutMs`). Later, a flag with a new pattern is off (undetermined) for the second or
   * two its check takes: requests never wait for it, and never run an unjudged pattern.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.screen.hasPending) return;
    const { startupTimeoutMs } = this.options;
    await bounded(this.screen.whenSettled(), startupTimeoutMs, 'regex check').catch(() => {
      this.logger.warn(
        `Regex conditions not judged after ${startupTimeoutMs} ms: their flags read as off until they are`,
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.checker.close();
  }

  private get sendEvents(): boolean {
    return this.options.sendFeatureFlagEvents;
  }

  /** The keys to hand the SDK: the asked ones, or all, without the blocked ones (undefined: all). */
  private keysToAsk(flagKeys: readonly string[] | undefined): string[] | undefined {
    const blocked = this.screen.blocked;
    if (flagKeys)
      return blocked.size === 0 ? [...flagKeys] : flagKeys.filter((k) => !blocked.has(k));
    return blocked.size === 0 ? undefined : this.screen.allKeys.filter((k) => !blocked.has(k));
  }

  /** Remote mode has no definitions: keys PostHog answered for are real flags (bounded). */
  private learnRemoteKeys(values: Record<string, FeatureFlagValue>): void {
    const known = this.status.knownFlagKeys;
    const fresh = Object.keys(values).filter((k) => !known.has(k));
    if (fresh.length === 0 || known.size + fresh.length > 1_000) return;
    this.status.knownFlagKeys = new Set([...known, ...fresh]);
  }

  private onScreened(newlyUnsafe: UnsafeFlag[], blockedChanged: boolean): void {
    const { status } = this;
    status.unsafeFlags = this.screen.unsafe.map((u) => u.key);
    for (const flag of newlyUnsafe.slice(0, 20)) {
      const pattern = flag.pattern.length > 100 ? `${flag.pattern.slice(0, 100)}…` : flag.pattern;
      const where = flag.pattern ? ` regex ${JSON.stringify(pattern)}` : '';
      this.logger.warn(
        `Feature flag "${flag.key}" is denied for everyone:${where} ${flag.reason} (ReDoS risk)`,
      );
    }
    if (blockedChanged) this.generation.invalidate();
  }

  private warnUnknown(
    flagKeys: readonly string[] | undefined,
    values: Record<string, FeatureFlagValue>,
  ): void {
    for (const key of flagKeys ?? []) {
      if (key in values || this.warnedUnknown.has(key) || this.screen.blocked.has(key)) continue;
      const message = () => `Unknown feature flag "${key.slice(0, 100)}": treated as off`;
      // Keys may come from input the app passes on: a few by name, then one line a minute.
      if (this.warnedUnknown.size >= 20) {
        this.unknownFlood.warn(message);
        continue;
      }
      this.warnedUnknown.add(key);
      this.logger.warn(message());
    }
  }
}

function toRecord(
  evaluations: Awaited<ReturnType<PostHog['evaluateFlags']>>,
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
