import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  Controller,
  Injectable,
  Logger,
  NotFoundException,
  type INestApplication,
} from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import {
  FeatureFlag,
  FeatureFlagGuard,
  FeatureFlagsService,
  PostHogFlagsTestingModule,
} from '../src/index.js';

@Controller()
@FeatureFlag('realtime')
class EventsGateway {}

/** A handler of the gateway; the flag sits on the class. */
function handleEvent(): void {}

/** What a WebSocket app would do: the user sits on the socket client, not a request. */
@Injectable()
class SocketFlagGuard extends FeatureFlagGuard {
  protected override getDistinctId(client: { data?: { userId?: string } }): string | undefined {
    return client.data?.userId;
  }
}

function context(type: 'rpc' | 'ws' | 'graphql', args: unknown[]): ExecutionContextHost {
  const host = new ExecutionContextHost(args, EventsGateway, handleEvent);
  host.setType(type);
  return host;
}

describe('non-HTTP contexts and service details', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PostHogFlagsTestingModule.forRoot({ flags: { realtime: true } })],
      providers: [SocketFlagGuard],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => app.close());

  it('gates an RPC handler on the user in the RPC context', async () => {
    const guard = app.get(FeatureFlagGuard);
    expect(await guard.canActivate(context('rpc', [{}, { user: { id: 'u1' } }]))).toBe(true);
    expect(() => guard.canActivate(context('rpc', [{}, {}]))).toThrow(NotFoundException);
  });

  it('gates a GraphQL resolver on context.req', async () => {
    const guard = app.get(FeatureFlagGuard);
    const gqlArgs = [{}, {}, { req: { user: { sub: 'auth0|7' } } }, {}];
    expect(await guard.canActivate(context('graphql', gqlArgs))).toBe(true);
  });

  it('lets a subclass find the user elsewhere (WebSocket client data)', async () => {
    const guard = app.get(SocketFlagGuard);
    expect(await guard.canActivate(context('ws', [{ data: { userId: 'u2' } }, {}]))).toBe(true);
    expect(() => guard.canActivate(context('ws', [{ data: {} }, {}]))).toThrow(NotFoundException);
  });

  it('reads unknown flags as off and logs each unknown key once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const flags = app.get(FeatureFlagsService);
    for (let i = 0; i < 5; i++) {
      expect(await flags.isEnabled('no-such-flag', `user-${i}`)).toBe(false);
    }
    const mentions = warn.mock.calls.filter(([message]) =>
      String(message).includes('no-such-flag'),
    );
    expect(mentions).toHaveLength(1);
    warn.mockRestore();
  });
});
