/**
 * The module's one schedule for loading definitions (posthog-node's own poller is off): runs
 * `tick` once per interval, never two at a time. A tick that overruns its interval is followed by
 * the next at once, not by a burst of missed ones.
 */
export class IntervalScheduler {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule(this.intervalMs);
  }

  /**
   * Stops ticking. A tick in progress is not awaited: it may hang on a fetch until posthog-node's
   * own timeout, and shutdown must not wait for that (its results are ignored once closed).
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const startedAt = Date.now();
    await this.tick().catch(this.onError);
    this.schedule(this.intervalMs - (Date.now() - startedAt));
  }
}
