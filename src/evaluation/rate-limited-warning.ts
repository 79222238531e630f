import type { Logger } from '@nestjs/common';

/**
 * One warning line per interval at most, however often the problem happens: the problem may be
 * driven by requests (an attacker's), and the log must not become the attack.
 */
export class RateLimitedWarning {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly intervalMs = 60_000,
  ) {}

  warn(message: () => string): void {
    const now = Date.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const more =
      this.suppressed > 0 ? ` (${this.suppressed} more since the last such warning)` : '';
    this.lastAt = now;
    this.suppressed = 0;
    this.logger.warn(`${message()}${more}`);
  }
}

/** An error in a few words for a log line: never its stack, never more than 200 characters. */
export function errorSummary(error: unknown): string {
  try {
    const text =
      error instanceof Error ? `${error.name}: ${error.message}` : `a thrown ${typeof error}`;
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return 'an unprintable error';
  }
}
