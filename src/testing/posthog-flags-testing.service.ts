import { Inject, Injectable } from '@nestjs/common';
import { PostHog } from 'posthog-node';
import type { FlagDefinitions } from '../posthog-flags-options.interface.js';
import type { ResolvedPostHogFlagsOptions } from '../posthog-flags-options.resolve.js';
import { POSTHOG_CLIENT } from '../posthog-flags.constants.js';
import { DEFINITIONS_SOURCE, RESOLVED_OPTIONS } from '../posthog-flags.internal-constants.js';
import { OfflineDefinitionsSource, type DefinitionsSource } from '../sources/definitions-source.js';
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

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedPostHogFlagsOptions,
    @Inject(DEFINITIONS_SOURCE) private readonly source: DefinitionsSource,
    @Inject(POSTHOG_CLIENT) private readonly posthog: PostHog,
  ) {
    this.initial = options.offlineDefinitions!;
  }

  /** Replaces every flag with this map. */
  setFlags(flags: TestFlagMap): Promise<void> {
    return this.setDefinitions(definitionsFromFlagMap(flags));
  }

  /** Replaces the definitions (full PostHog definitions, as `/flags/definitions` returns them). */
  async setDefinitions(definitions: FlagDefinitions): Promise<void> {
    if (!(this.source instanceof OfflineDefinitionsSource)) {
      throw new Error('PostHogFlagsTesting needs the module in offline mode (definitions given)');
    }
    await this.source.replace(this.posthog, definitions);
  }

  /** Back to the flags the module was created with. */
  reset(): Promise<void> {
    return this.setDefinitions(this.initial);
  }
}
