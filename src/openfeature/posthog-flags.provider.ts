import type { INestApplicationContext } from '@nestjs/common';
import {
  FlagNotFoundError,
  GeneralError,
  OpenFeatureEventEmitter,
  ProviderEvents,
  ProviderNotReadyError,
  StandardResolutionReasons,
  type EvaluationContext,
  type FlagMetadata,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { FlagEvaluator } from '../evaluation/flag-evaluator.js';
import { FlagsRuntime } from '../posthog-flags.runtime.js';
import { FeatureFlagsService } from '../posthog-flags.service.js';
import { changeFeedOf, type ChangeFeed } from './change-feed.js';
import { toPostHogInput } from './context-mapping.js';
import { FlagCatalog } from './flag-catalog.js';
import { healthEvent, type HealthEvent } from './provider-health.js';
import {
  resolveBoolean,
  resolveNumber,
  resolveObject,
  resolveString,
  type FlagOutcome,
} from './resolution.js';

/** Where the provider finds the module: a Nest application context or a `ModuleRef`. */
export type PostHogFlagsContainer = Pick<INestApplicationContext, 'get'>;

export interface PostHogFlagsProviderOptions {
  /** STALE once definitions were last confirmed longer ago than this. Default: the module's `maxAgeMs` (as health). */
  maxAgeMs?: number;
  /** How often READY / STALE / ERROR are re-judged (ms). Default 1 000. */
  healthCheckIntervalMs?: number;
}

interface Bound {
  evaluator: FlagEvaluator;
  runtime: FlagsRuntime;
  changes: ChangeFeed;
}

/**
 * OpenFeature server provider on this module's memoized local evaluation: every process of the
 * fleet evaluates from the shared definitions, with PostHog's own results. `targetingKey` is the
 * distinct id, `groups` / `groupProperties` PostHog's groups and group properties, every other
 * attribute a person property. Emits READY, STALE, ERROR and CONFIGURATION_CHANGED (`flagsChanged`).
 *
 * @example
 * await OpenFeature.setProviderAndWait(new PostHogFlagsProvider(app));
 */
export class PostHogFlagsProvider implements Provider {
  readonly runsOn = 'server';
  readonly metadata = { name: 'nestjs-posthog-flags' } as const;
  readonly events = new OpenFeatureEventEmitter();
  private bound?: Bound;
  private readonly attached: Promise<Bound>;
  private resolveAttached!: (bound: Bound) => void;
  private readonly catalog = new FlagCatalog();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private lastHealth?: HealthEvent['event'];
  private closed = false;

  /** With `app`, bound at once; without it, `attach()` (or `attachPostHogFlagsProvider`) binds it later. */
  constructor(
    app?: PostHogFlagsContainer,
    private readonly options: PostHogFlagsProviderOptions = {},
  ) {
    this.attached = new Promise((resolve) => (this.resolveAttached = resolve));
    if (app) this.attach(app);
  }

  /** Binds the provider to the module running in `app` (evaluations wait for nothing more). */
  attach(app: PostHogFlagsContainer): this {
    if (this.bound) return this;
    const runtime = app.get(FlagsRuntime, { strict: false });
    const bound: Bound = {
      evaluator: app.get(FlagEvaluator, { strict: false }),
      runtime,
      changes: changeFeedOf(app.get(FeatureFlagsService, { strict: false })),
    };
    runtime.generation.onDefinitions((data) => {
      if (!this.closed) this.catalog.update(data);
    });
    this.bound = bound;
    this.resolveAttached(bound);
    return this;
  }

  /**
   * Resolves once definitions are loaded (remote mode: at once), waiting at most the module's
   * `startupTimeoutMs`; rejects after that (ERROR), and READY follows when they arrive.
   */
  async initialize(): Promise<void> {
    const { runtime, changes } = await this.attached;
    // Initialized again (re-registered after a close): one timer and one subscription, still.
    this.stopWatching();
    this.closed = false;
    this.unsubscribe = changes((flagsChanged) => {
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged });
    });
    const interval = this.options.healthCheckIntervalMs ?? 1_000;
    this.timer = setInterval(() => this.checkHealth(), interval);
    this.timer.unref();
    // Remote mode has nothing to load: each evaluation asks PostHog.
    const ready =
      (await runtime.waitUntilReady(runtime.options.startupTimeoutMs)) ||
      runtime.options.mode === 'remote';
    // What the SDK concludes from this promise is the status the next change is judged against.
    this.lastHealth = ready ? ProviderEvents.Ready : ProviderEvents.Error;
    if (!ready) {
      throw new GeneralError(
        `No flag definitions after ${runtime.options.startupTimeoutMs} ms${this.problem(runtime)}`,
      );
    }
    this.checkHealth();
  }

  async onClose(): Promise<void> {
    this.closed = true;
    this.stopWatching();
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    _defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    return resolveBoolean(await this.outcome(flagKey, context));
  }

  async resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<string>> {
    return resolveString(await this.outcome(flagKey, context), defaultValue);
  }

  async resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<number>> {
    return resolveNumber(await this.outcome(flagKey, context), defaultValue);
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return resolveObject(await this.outcome(flagKey, context), defaultValue);
  }

  /** One flag for one user on the module's evaluator (memoized, exposure sent on read). */
  private async outcome(flagKey: string, context: EvaluationContext): Promise<FlagOutcome> {
    const bound = this.bound;
    if (!bound) throw new ProviderNotReadyError('Not attached to a PostHogFlagsModule yet');
    const { runtime, evaluator } = bound;
    const { distinctId, context: input } = toPostHogInput(
      context,
      runtime.options.maxDistinctIdLength,
    );
    const snapshot = await evaluator.evaluate(distinctId, input, [flagKey]);
    if (!snapshot.ready) {
      if (!runtime.status.loaded) throw new ProviderNotReadyError('No flag definitions loaded yet');
      throw new GeneralError(`Flag "${flagKey}" could not be evaluated${this.problem(runtime)}`);
    }
    const value = snapshot.getFlag(flagKey);
    if (value === undefined) throw this.missing(flagKey, runtime);
    const { status } = runtime;
    if (status.hasListeners) {
      status.emit('evaluation', { flagKey, enabled: value !== false, denied: false });
    }
    const entry = this.catalog.get(flagKey);
    const flagMetadata: FlagMetadata = {};
    if (entry?.id !== undefined) flagMetadata.flagId = entry.id;
    if (entry?.version !== undefined) flagMetadata.flagVersion = entry.version;
    const reason =
      entry?.active === false
        ? StandardResolutionReasons.DISABLED
        : value === false
          ? StandardResolutionReasons.DEFAULT
          : StandardResolutionReasons.TARGETING_MATCH;
    return {
      key: flagKey,
      value,
      payload: snapshot.getPayload(flagKey),
      payloadIsNotJson: entry?.payloadsNotJson.has(String(value)) ?? false,
      reason,
      flagMetadata,
    };
  }

  /** Why a flag has no value: not in the definitions, denied for everyone, or not decidable here. */
  private missing(flagKey: string, runtime: FlagsRuntime): Error {
    const { status } = runtime;
    if (status.unsafeFlags.includes(flagKey)) {
      return new GeneralError(
        `Flag "${flagKey}" is denied for everyone: a regex condition could stall the process`,
      );
    }
    if (status.knownFlagKeys.has(flagKey)) {
      return new GeneralError(
        `Flag "${flagKey}" cannot be decided locally for this context (a property it needs is missing, or it needs PostHog's servers)`,
      );
    }
    return new FlagNotFoundError(`Flag "${flagKey}" is not in the definitions`);
  }

  private problem(runtime: FlagsRuntime): string {
    const error = runtime.status.lastError;
    return error === null ? '' : `: ${error}`;
  }

  /** Emits READY / STALE / ERROR when the judgement changes (health's own, not a copy). */
  private checkHealth(): void {
    const bound = this.bound;
    if (!bound || this.closed || this.lastHealth === undefined) return;
    const maxAgeMs = this.options.maxAgeMs ?? bound.runtime.options.maxAgeMs;
    const next = healthEvent(bound.runtime.status.snapshot(), maxAgeMs);
    if (!next || next.event === this.lastHealth) return;
    this.lastHealth = next.event;
    this.events.emit(next.event, next.message === undefined ? {} : { message: next.message });
  }

  private stopWatching(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
