// Written the way the README's "Testing your app" section tells users to test their own app.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  FeatureFlag,
  FeatureFlagsService,
  FlagValue,
  PostHogFlagsModule,
  PostHogFlagsTesting,
  PostHogFlagsTestingModule,
} from '../src/index.js';

// --- the user's app -------------------------------------------------------
@Controller('shop')
class ShopController {
  @Get('checkout')
  @FeatureFlag('new-checkout')
  checkout() {
    return { checkout: 'new' };
  }

  @Get('pricing')
  @FeatureFlag('pricing', { variant: 'test-b' })
  pricing(@FlagValue('pricing', { payload: true }) offer: { discount: number }) {
    return { offer };
  }
}

// Kept in a constant so tests can swap it: Nest matches dynamic modules by identity.
const flagsModule = PostHogFlagsModule.forRoot({
  projectApiKey: 'phc_production_key',
  secretKey: 'phs_production_secret',
  redis: 'redis://redis.internal:6379',
  distinctId: (req) => req.headers['x-user-id'],
});

@Module({ imports: [flagsModule], controllers: [ShopController] })
class ShopModule {}

// --- the user's test ------------------------------------------------------
describe('ShopController with PostHogFlagsTestingModule', () => {
  let app: INestApplication;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ShopModule] })
      .overrideModule(flagsModule)
      .useModule(
        PostHogFlagsTestingModule.forRoot({
          flags: {
            'new-checkout': true,
            pricing: { value: 'test-b', payload: { discount: 20 } },
          },
          distinctId: (req) => req.headers['x-user-id'],
        }),
      )
      .compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterEach(async () => app.close());

  it('serves gated routes from the map, with payloads', async () => {
    await request(app.getHttpServer()).get('/shop/checkout').set('x-user-id', 'u1').expect(200);
    await request(app.getHttpServer())
      .get('/shop/pricing')
      .set('x-user-id', 'u1')
      .expect(200, { offer: { discount: 20 } });
  });

  it('changes flags for one test', async () => {
    await app.get(PostHogFlagsTesting).setFlags({ 'new-checkout': false, pricing: 'control' });
    await request(app.getHttpServer()).get('/shop/checkout').set('x-user-id', 'u1').expect(404);
    await request(app.getHttpServer()).get('/shop/pricing').set('x-user-id', 'u1').expect(404);
    await app.get(PostHogFlagsTesting).reset();
    await request(app.getHttpServer()).get('/shop/checkout').set('x-user-id', 'u1').expect(200);
  });

  it('evaluates full definitions with the real engine (a 50% rollout splits users)', async () => {
    await app.get(PostHogFlagsTesting).setDefinitions({
      flags: [
        {
          id: 1,
          key: 'new-checkout',
          active: true,
          filters: { groups: [{ properties: [], rollout_percentage: 50 }] },
        },
      ],
    });
    const flags = app.get(FeatureFlagsService);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => flags.isEnabled('new-checkout', `user-${i}`)),
    );
    const on = results.filter(Boolean).length;
    expect(on).toBeGreaterThan(70);
    expect(on).toBeLessThan(130);
    expect(flags.status()).toMatchObject({ role: 'offline', redis: 'none', ready: true });
  });
});
