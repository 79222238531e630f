import { Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { FlagsChangeEvent } from './changes/flag-change.js';
import { FlagChangeFeed } from './changes/flag-change-feed.js';
import type { FlagEvaluationContext } from './evaluation/evaluation-context.js';
import type { FeatureFlagsSnapshot } from './evaluation/feature-flags-snapshot.js';
import { FlagEvaluator } from './evaluation/flag-evaluator.js';
import { FlagsStatusTracker, type FlagsStatus } from './flags-status.js';

/**
 * Feature flags for code paths the guard does not cover. Every call evaluates locally (memoized)
 * when local evaluation is on, and never touches Redis.
 *
 * @example
 * if (await flags.isEnabled('new-checkout', user.id, { personProperties: { plan: user.plan } })) { … }
 */
@Injectable()
export class FeatureFlagsService {
  constructor(
    private readonly evaluator: FlagEvaluator,
    private readonly tracker: FlagsStatusTracker,
    private readonly feed: FlagChangeFeed,
  ) {}

  /** True when the flag is on (any variant) for this user. Unknown flags are off. */
  async isEnabled(
    key: string,
    distinctId: string,
    context?: FlagEvaluationContext,
  ): Promise<boolean> {
    const enabled = (await this.evaluator.evaluate(distinctId, context, [key])).isEnabled(key);
    const status = this.tracker;
    if (status.hasListeners) status.emit('evaluation', { flagKey: key, enabled, denied: false });
    return enabled;
  }

  /** The variant key of a multivariate flag for this user, or `undefined`. */
  async getVariant(
    key: string,
    distinctId: string,
    context?: FlagEvaluationContext,
  ): Promise<string | undefined> {
    return (await this.evaluator.evaluate(distinctId, context, [key])).getVariant(key);
  }

  /** The flag's JSON payload for this user's value, or `undefined`. */
  async getPayload<T = unknown>(
    key: string,
    distinctId: string,
    context?: FlagEvaluationContext,
  ): Promise<T | undefined> {
    return (await this.evaluator.evaluate(distinctId, context, [key])).getPayload<T>(key);
  }

  /** Every flag for this user, evaluated once. */
  evaluate(distinctId: string, context?: FlagEvaluationContext): Promise<FeatureFlagsSnapshot> {
    return this.evaluator.evaluate(distinctId, context);
  }

  /**
   * The flags added, removed or changed each time this process's definitions change (any mode),
   * once the new definitions are in effect. The first load is not a change.
   *
   * @example
   * flags.changes().subscribe(({ keys }) => logger.log(`flags changed: ${keys.join(', ')}`));
   */
  changes(): Observable<FlagsChangeEvent> {
    return this.feed.changes;
  }

  /** The state of this process's definitions: role, age, Redis, last error. Never a secret. */
  status(): FlagsStatus {
    return this.tracker.snapshot();
  }
}
