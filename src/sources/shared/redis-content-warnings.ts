import type { Logger } from '@nestjs/common';
import { RateLimitedWarning } from '../../evaluation/rate-limited-warning.js';

/** What in Redis was not taken as written. */
export type RedisContentProblem =
  'verifiedAt' | 'quota' | 'notice' | 'invalid copy' | 'meta hash' | 'stalled leader';

/**
 * Warnings about what Redis holds, at most one line per kind a minute: anyone who can write to
 * Redis can repeat a problem as fast as they like, and the log must not become the attack.
 */
export class RedisContentWarnings {
  private readonly byKind = new Map<RedisContentProblem, RateLimitedWarning>();

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly intervalMs = 60_000,
  ) {}

  warn(kind: RedisContentProblem, message: () => string): void {
    let warning = this.byKind.get(kind);
    if (!warning) {
      warning = new RateLimitedWarning(this.logger, this.intervalMs);
      this.byKind.set(kind, warning);
    }
    warning.warn(message);
  }
}
