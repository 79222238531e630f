import type { Logger } from '@nestjs/common';
import type { PostHogFetch } from './observed-fetch.js';

const isRemoteFlagsRequest = (url: string): boolean => /\/flags\/?\?/.test(url);

/** Consecutive failed `/flags` calls that open the circuit. */
const FAILURES_TO_OPEN = 3;
const MIN_OPEN_MS = 1_000;
const MAX_OPEN_MS = 30_000;
const LOG_EVERY_MS = 60_000;

/**
 * Remote evaluation's circuit breaker, on the `fetch` given to posthog-node. While PostHog is
 * unreachable (timeouts, refused connections, 5xx), a gated request must not wait for it: after a
 * few failures in a row, `/flags` calls fail at once (fail closed: flags off); after each open
 * period (doubling up to 30 s) the breaker probes PostHog in the background, and a success closes
 * the circuit. Failing fast is a 503 answer, which
 * posthog-node neither retries nor mistakes for an unknown flag.
 */
export class RemoteFlagsBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private lastLoggedAt = 0;

  constructor(private readonly logger: Pick<Logger, 'warn' | 'log'>) {}

  get isOpen(): boolean {
    return this.openUntil > 0;
  }

  wrap(inner: PostHogFetch): PostHogFetch {
    return async (url, options) => {
      if (!isRemoteFlagsRequest(url)) return inner(url, options);
      if (this.openUntil > 0) {
        // Open: no request waits for PostHog. Past the open period, one call of the breaker's own
        // (this request's, answered to nobody) probes whether PostHog is back.
        if (Date.now() >= this.openUntil && !this.probing) void this.probe(inner, url, options);
        return circuitOpen();
      }
      return this.call(inner, url, options);
    };
  }

  private async call(
    inner: PostHogFetch,
    url: string,
    options: Parameters<PostHogFetch>[1],
  ): ReturnType<PostHogFetch> {
    try {
      const response = await inner(url, options);
      if (response.status >= 500) this.failed(`PostHog answered ${response.status}`);
      else this.succeeded();
      return response;
    } catch (error) {
      this.failed(describeNetworkFailure(error));
      throw error;
    }
  }

  private async probe(
    inner: PostHogFetch,
    url: string,
    options: Parameters<PostHogFetch>[1],
  ): Promise<void> {
    this.probing = true;
    try {
      await this.call(inner, url, options);
    } catch {
      // counted by `call`
    } finally {
      this.probing = false;
    }
  }

  private failed(reason: string): void {
    this.failures++;
    if (this.failures < FAILURES_TO_OPEN) return;
    const openMs = Math.min(MAX_OPEN_MS, MIN_OPEN_MS * 2 ** (this.failures - FAILURES_TO_OPEN));
    this.openUntil = Date.now() + openMs;
    if (Date.now() - this.lastLoggedAt < LOG_EVERY_MS) return;
    this.lastLoggedAt = Date.now();
    this.logger.warn(
      `PostHog remote evaluation is failing (${reason}; ${this.failures} calls in a row): ` +
        `flags read as off, and /flags calls fail at once for ${openMs} ms before the next try`,
    );
  }

  private succeeded(): void {
    if (this.openUntil > 0) this.logger.log('PostHog remote evaluation answers again');
    this.failures = 0;
    this.openUntil = 0;
  }
}

function describeNetworkFailure(error: unknown): string {
  const name = (error as Error)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') return 'no answer within the timeout';
  const code = (error as { cause?: { code?: string } })?.cause?.code;
  return code ? `connection failed: ${code}` : 'PostHog could not be reached';
}

function circuitOpen(): ReturnType<PostHogFetch> {
  const body = '{"detail":"circuit open: PostHog remote evaluation is failing"}';
  return Promise.resolve({
    status: 503,
    text: async () => body,
    json: async () => JSON.parse(body) as unknown,
    headers: { get: () => null },
  });
}
