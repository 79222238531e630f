/**
 * The module's one schedule for loading definitions (posthog-node's own poller is off): runs
 * `tick` once per interval, never two at a time. A tick that overruns its interval is followed by
 * the next at once, not by a burst of missed ones.
 */
export class IntervalScheduler {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule(this.intervalMs);
  }

  /** Stops ticking; resolves once a tick in progress is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const startedAt = Date.now();
    this.running = this.tick().catch(this.onError);
    await this.running;
    this.running = undefined;
    this.schedule(this.intervalMs - (Date.now() - startedAt));
  }
}
