import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { FlagsRuntime } from './posthog-flags.runtime.js';

/** Starts and stops the runtime with the app (a provider, so every module flavour shares it). */
@Injectable()
export class PostHogFlagsLifecycle implements OnModuleInit, OnApplicationShutdown {
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

  /** Flushes events, releases the lease, closes the connections the module opened (bounded). */
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.shutdown();
  }
}
