import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FeatureFlagsService, PostHogFlagsTestingModule } from '../src/index.js';

// Guards on GraphQL, WebSocket and RPC contexts are tested through real servers: test/transports/.

describe('service details', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PostHogFlagsTestingModule.forRoot({ flags: { realtime: true } })],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => app.close());

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
