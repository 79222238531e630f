import { Injectable } from '@nestjs/common';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';
import { FlagsRuntime } from '../posthog-flags.runtime.js';
import { OfflineDefinitionsSource } from '../sources/definitions-source.js';
import { definitionsFromFlagMap, type TestFlagMap } from './flag-map.js';

/**
 * Changes the flags of a `PostHogFlagsTestingModule` between tests.
 *
 * @example
 * await moduleRef.get(PostHogFlagsTesting).setFlags({ 'new-checkout': false });
 */
@Injectable()
export class PostHogFlagsTesting {
  private readonly initial: FlagDefinitions;

  constructor(private readonly runtime: FlagsRuntime) {
    this.initial = runtime.options.offlineDefinitions!;
  }

  /** Replaces every flag with this map. */
  setFlags(flags: TestFlagMap): Promise<void> {
    return this.setDefinitions(definitionsFromFlagMap(flags));
  }

  /** Replaces the definitions (full PostHog definitions, as `/flags/definitions` returns them). */
  async setDefinitions(definitions: FlagDefinitions): Promise<void> {
    const { source, posthog } = this.runtime;
    if (!(source instanceof OfflineDefinitionsSource)) {
      throw new Error('PostHogFlagsTesting needs the module in offline mode (definitions given)');
    }
    await source.replace(posthog, definitions);
  }

  /** Back to the flags the module was created with. */
  reset(): Promise<void> {
    return this.setDefinitions(this.initial);
  }
}
