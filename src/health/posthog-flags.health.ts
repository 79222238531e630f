import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { FlagsStatusTracker } from '../flags-status.js';
import type { ResolvedPostHogFlagsOptions } from '../posthog-flags-options.resolve.js';
import { RESOLVED_OPTIONS } from '../posthog-flags.internal-constants.js';
import { assessDefinitions } from './definitions-health.js';

export interface PostHogFlagsHealthOptions {
  /** Down when definitions were last verified longer ago than this. Default: the module's `maxAgeMs`. */
  maxAgeMs?: number;
}

/**
 * Terminus health indicator: `up` when definitions are loaded and PostHog confirmed them (200 or
 * 304, seen by any leader) within `maxAgeMs`; `down` otherwise. Details are `status()`.
 *
 * @example
 * check() { return this.health.check([() => this.flags.isHealthy()]); }
 */
@Injectable()
export class PostHogFlagsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly status: FlagsStatusTracker,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedPostHogFlagsOptions,
  ) {}

  isHealthy<const Key extends string = 'posthog_flags'>(
    key: Key = 'posthog_flags' as Key,
    options: PostHogFlagsHealthOptions = {},
  ): HealthIndicatorResult<Key> {
    const indicator = this.health.check(key);
    const status = this.status.snapshot();
    const maxAgeMs = options.maxAgeMs ?? this.options.maxAgeMs;
    const details = { ...status, maxAgeMs };
    const healthy = assessDefinitions(status, maxAgeMs) === 'fresh';
    return healthy ? indicator.up(details) : indicator.down(details);
  }
}
