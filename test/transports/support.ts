import { Injectable, type ExecutionContext, type ModuleMetadata } from '@nestjs/common';
import {
  FeatureFlagGate,
  FeatureFlagGuard,
  PostHogFlagsTesting,
  PostHogFlagsTestingModule,
  type FlagDefinitions,
  type FlagEvaluationContext,
  type PostHogFlagsTestingOptions,
} from '../../src/index.js';

/** The gated flag: on for callers whose `tier` person property is `gold`, off for the rest. */
export const FLAG = 'express-shipping';
export const GOLD_USER = 'gold-ada';
export const FREE_USER = 'free-bob';
/** Every transport spec sends each caller through this many gated calls. */
export const SEQUENCE_LENGTH = 20;

/** Real PostHog definitions (the real engine evaluates them): the flag on for gold callers only. */
export function expressShipping(active: boolean): FlagDefinitions {
  return {
    flags: [
      {
        id: 1,
        key: FLAG,
        name: 'Express shipping (gold tier)',
        active,
        deleted: false,
        ensure_experience_continuity: false,
        filters: {
          groups: [
            {
              properties: [{ key: 'tier', type: 'person', value: ['gold'], operator: 'exact' }],
              rollout_percentage: 100,
              variant: null,
            },
          ],
          payloads: {},
        },
      },
    ],
    group_type_mapping: {},
    cohorts: {},
  };
}

/** The app's own service, injected into its guard: knows each user's tier. */
@Injectable()
export class UserDirectory {
  tierOf(user: string | undefined): string {
    return user?.startsWith('gold-') ? 'gold' : 'free';
  }
}

/**
 * The app's guard: finds the caller where each transport carries it (a header over HTTP/GraphQL,
 * the socket.io handshake, the message payload) and asks its own service for the tier.
 */
@Injectable()
export class CallerFlagGuard extends FeatureFlagGuard {
  constructor(
    gate: FeatureFlagGate,
    private readonly users: UserDirectory,
  ) {
    super(gate);
  }

  protected override getDistinctId(request: any, context: ExecutionContext): string | undefined {
    switch (context.getType<string>()) {
      case 'ws':
        return request.handshake?.auth?.user;
      case 'rpc':
        return context.switchToRpc().getData()?.user;
      default:
        return request.headers?.['x-user'];
    }
  }

  protected override getEvaluationContext(
    request: any,
    context: ExecutionContext,
  ): FlagEvaluationContext {
    return {
      personProperties: { tier: this.users.tierOf(this.getDistinctId(request, context)) },
    };
  }
}

/** The app module's metadata: the flags module in testing mode with the app's guard, and the app's parts. */
export function flagsApp(
  parts: ModuleMetadata,
  options: PostHogFlagsTestingOptions = {},
): ModuleMetadata {
  return {
    ...parts,
    imports: [
      PostHogFlagsTestingModule.forRoot({
        definitions: expressShipping(true),
        guard: CallerFlagGuard,
        ...options,
      }),
      ...(parts.imports ?? []),
    ],
    providers: [UserDirectory, ...(parts.providers ?? [])],
  };
}

/** Turns the flag on or off for everyone eligible, as PostHog's next poll would. */
export async function setFlagActive(
  app: { get(type: typeof PostHogFlagsTesting): PostHogFlagsTesting },
  active: boolean,
): Promise<void> {
  await app.get(PostHogFlagsTesting).setDefinitions(expressShipping(active));
}
