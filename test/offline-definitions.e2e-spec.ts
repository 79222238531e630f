// Offline definitions as the README documents them for local development: the shorthand map (inline
// and as a JSON file) next to full PostHog definitions, evaluated by the real engine.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import {
  FeatureFlag,
  FeatureFlagsService,
  FlagValue,
  PostHogFlagsModule,
  type PostHogFlagsModuleOptions,
} from '../src/index.js';

@Controller()
class ShopController {
  @Get('checkout')
  @FeatureFlag('new-checkout')
  checkout() {
    return { checkout: 'new' };
  }

  @Get('legacy')
  @FeatureFlag('legacy-cart')
  legacy() {
    return { legacy: true };
  }

  @Get('pricing')
  @FeatureFlag('pricing', { variant: 'test-b' })
  pricing(@FlagValue('pricing', { payload: true }) offer: { discount: number }) {
    return { offer };
  }
}

const shorthand = {
  'new-checkout': true,
  'legacy-cart': false,
  pricing: { value: 'test-b', payload: { discount: 20 } },
};

async function start(options: Partial<PostHogFlagsModuleOptions>): Promise<INestApplication> {
  @Module({
    imports: [
      PostHogFlagsModule.forRoot({
        projectApiKey: 'phc_local_dev',
        distinctId: (req) => req.headers['x-user-id'],
        ...options,
      }),
    ],
    controllers: [ShopController],
  })
  class ShopModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ShopModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('offline definitions in the shorthand the testing module takes', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const dir = mkdtempSync(join(tmpdir(), 'offline-definitions-'));
  const shorthandFile = join(dir, 'flags.json');
  writeFileSync(shorthandFile, JSON.stringify(shorthand));

  it.each([
    ['inline `definitions`', { definitions: shorthand }],
    ['a `definitionsFile`', { definitionsFile: shorthandFile }],
  ])('gates routes from %s, with variants and payloads', async (_label, options) => {
    app = await start(options);
    const http = app.getHttpServer();
    await request(http).get('/checkout').set('x-user-id', 'u1').expect(200, { checkout: 'new' });
    await request(http).get('/legacy').set('x-user-id', 'u1').expect(404);
    await request(http)
      .get('/pricing')
      .set('x-user-id', 'u1')
      .expect(200, { offer: { discount: 20 } });
    await request(http).get('/checkout').expect(404); // no user: denied, as with PostHog
    const status = app.get(FeatureFlagsService).status();
    expect(status).toMatchObject({ role: 'offline', ready: true, flagCount: 3 });
  });

  it('fails at startup naming the bad flag of a shorthand file', async () => {
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ 'new-checkout': 'yes', 'legacy-cart': 0 }));
    await expect(start({ definitionsFile: badFile })).rejects.toThrow(
      `definitionsFile ${badFile}: flag "legacy-cart" must be true, false, a variant key or { value, payload } (got 0)`,
    );
  });
});
