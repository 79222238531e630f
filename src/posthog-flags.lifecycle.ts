import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { FlagsRuntime } from './posthog-flags.runtime.js';

/** Starts and stops the runtime with the app (a provider, so every module flavour shares it). */
@Injectable()
export class PostHogFlagsLifecycle
  implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('PostHogFlags');

  constructor(private readonly runtime: FlagsRuntime) {}

  /** Waits for the first definitions, bounded by `startupTimeoutMs`: boot never hangs on Redis or PostHog. */
  async onModuleInit(): Promise<void> {
    const { mode, startupTimeoutMs } = this.runtime.options;
    const ready = await this.runtime.waitUntilReady(startupTimeoutMs);
    if (!ready && mode !== 'remote') {
      this.logger.warn(
        `No flag definitions after ${startupTimeoutMs} ms: flags read as off until they arrive`,
      );
    }
  }

  /**
   * Leaves the lease protocol as soon as shutdown begins. Nest closes the HTTP server between this
   * hook and `onApplicationShutdown`, and that waits for every open request (a slow client, busy
   * keep-alive connections): a leader must not go on renewing, fetching and writing meanwhile.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.runtime.stepAside();
  }

  /** Flushes events, releases the lease, closes the connections the module opened (bounded). */
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.shutdown();
  }
}
