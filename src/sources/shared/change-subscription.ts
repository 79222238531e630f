import type { Logger } from '@nestjs/common';
import type { FlagsRedis, FlagsRedisSubscription } from '../../redis/flags-redis.js';
import { CoalescingRunner } from '../coalescing-runner.js';
import { isKnownNotice, RELEASED_NOTICE } from './notices.js';
import type { RedisContentWarnings } from './redis-content-warnings.js';

/** How long notices are gathered into one reload. */
const DEBOUNCE_MS = 1;

export interface ChangeHandlers {
  /** New content (its hash) or a quota notice: reload. Debounced, one at a time. */
  onChange(announced: string): Promise<void>;
  /** The leader gave up its lease. */
  onReleased(): void;
}

/**
 * Listens on the project's `changed` channel on a connection of its own (a subscribed connection
 * can run nothing else) and turns each burst of notices into one reload.
 */
export class ChangeSubscription {
  private subscription?: FlagsRedisSubscription;
  private handlers?: ChangeHandlers;
  private announced = '';
  private timer?: NodeJS.Timeout;
  private readonly waiters: Array<() => void> = [];
  private readonly reloads = new CoalescingRunner(
    async () => await this.handlers?.onChange(this.announced),
  );

  constructor(
    private readonly redis: FlagsRedis,
    private readonly channel: string,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly warnings: RedisContentWarnings,
  ) {}

  start(handlers: ChangeHandlers): void {
    if (this.subscription) return;
    this.handlers = handlers;
    this.subscription = this.redis.subscribe(this.channel, (message) => this.notice(message));
    this.subscription.ready.catch((error: unknown) =>
      this.logger.warn(`Change notices unavailable, polling only: ${(error as Error).message}`),
    );
  }

  /** Resolves on the next notice (used by a cold start waiting for the leader). */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(timeoutMs: number): Promise<void> {
    clearTimeout(this.timer);
    this.handlers = undefined;
    for (const resolve of this.waiters.splice(0)) resolve();
    await this.subscription?.close(timeoutMs);
    this.subscription = undefined;
  }

  private notice(message: string): void {
    // Anyone who can publish on the channel can say anything: only what a leader says is news.
    if (!isKnownNotice(message)) {
      this.warnings.warn(
        'notice',
        () => `Ignored a message on ${this.channel} that no leader sends (${message.length} bytes)`,
      );
      return;
    }
    for (const resolve of this.waiters.splice(0)) resolve();
    if (message === RELEASED_NOTICE) {
      this.handlers?.onReleased();
      return;
    }
    this.announced = message;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.handlers && this.reloads.request(), DEBOUNCE_MS);
  }
}
