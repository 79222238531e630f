import type { FeatureFlagEvaluations } from 'posthog-node';
import type {
  FeatureFlagKey,
  FeatureFlagValueOf,
  FeatureFlagVariant,
} from '../feature-flag-keys.js';
import type { FeatureFlagValue } from './evaluation-context.js';

/** One evaluation's results, shared by every request that memo entry answers. */
export interface EvaluationRecord {
  values: Record<string, FeatureFlagValue>;
  payloads: Record<string, unknown>;
  /** The SDK's snapshot, read once per key to send its `$feature_flag_called` exposure. */
  evaluations?: FeatureFlagEvaluations;
  exposed: Set<string>;
}

/**
 * The flags of one distinct id, as evaluated once. Reading a flag sends PostHog's exposure event
 * the first time that user sees that value (when events are on).
 */
export class FeatureFlagsSnapshot {
  constructor(
    readonly distinctId: string,
    private readonly record: EvaluationRecord,
    private readonly sendEvents: boolean,
    /** False when definitions were not loaded: every flag reads as off. */
    readonly ready = true,
  ) {}

  /** The flag's value: `true`, `false`, a variant key, or `undefined` for a flag not in the definitions. */
  getFlag<K extends FeatureFlagKey>(key: K): FeatureFlagValueOf<K> | undefined {
    this.expose(key);
    return this.record.values[key] as FeatureFlagValueOf<K> | undefined;
  }

  /** Enabled (any variant counts). Unknown flags are off. */
  isEnabled(key: FeatureFlagKey): boolean {
    const value = this.getFlag(key);
    return value !== undefined && value !== false;
  }

  /** The variant key of a multivariate flag, else `undefined`. */
  getVariant<K extends FeatureFlagKey>(key: K): FeatureFlagVariant<K> | undefined {
    const value: FeatureFlagValue | undefined = this.getFlag(key);
    return typeof value === 'string' ? (value as FeatureFlagVariant<K>) : undefined;
  }

  /** The flag's JSON payload (for its current variant). Sends no event. */
  getPayload<T = unknown>(key: FeatureFlagKey): T | undefined {
    return this.record.payloads[key] as T | undefined;
  }

  has(key: string): boolean {
    return key in this.record.values;
  }

  get keys(): string[] {
    return Object.keys(this.record.values);
  }

  /** Every value, without sending exposure events. */
  toJSON(): Record<string, FeatureFlagValue> {
    return { ...this.record.values };
  }

  private expose(key: string): void {
    const record = this.record;
    if (!this.sendEvents || !record.evaluations || record.exposed.has(key)) return;
    record.exposed.add(key);
    record.evaluations.getFlag(key, { sendFeatureFlagEvents: true });
  }
}
