import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { PostHog } from 'posthog-node';
import request from 'supertest';
import {
  FeatureFlag,
  FeatureFlagsService,
  FlagValue,
  InjectPostHog,
  InjectPostHogFlagsRedis,
  POSTHOG_FLAGS_REDIS,
  PostHogFlagsModule,
  type PostHogFlagsModuleOptions,
  type PostHogFlagsOptionsFactory,
} from '../src/index.js';
import { FakePostHog, booleanFlag } from './support/fake-posthog.js';
import { RedisServer, sharedTestRedis } from './support/redis-server.js';

let fake: FakePostHog;
let redis: { url: string; stop(): Promise<void> };

beforeAll(async () => {
  fake = await FakePostHog.start({
    definitions: { flags: [booleanFlag('on'), booleanFlag('off', { active: false })] },
  });
  redis = await sharedTestRedis();
});
afterAll(async () => {
  await fake.close();
  await redis.stop();
});

const baseOptions = (): PostHogFlagsModuleOptions => ({
  projectApiKey: fake.projectApiKey,
  secretKey: fake.secretKey,
  host: fake.url,
  redis: redis.url,
  keyPrefix: `module-test:${Math.random().toString(36).slice(2, 8)}`,
  pollingIntervalMs: 200,
  posthog: { flushAt: 1 },
});

@Injectable()
class FlagsConfig {
  create(): PostHogFlagsModuleOptions {
    return baseOptions();
  }
}
@Module({ providers: [FlagsConfig], exports: [FlagsConfig] })
class ConfigModule {}

@Injectable()
class OptionsFactory implements PostHogFlagsOptionsFactory {
  createPostHogFlagsOptions(): PostHogFlagsModuleOptions {
    return baseOptions();
  }
}
@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsFactoryModule {}

async function boot(imports: any[]): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

async function expectWorkingFlags(app: INestApplication): Promise<void> {
  const flags = app.get(FeatureFlagsService);
  expect(flags.status()).toMatchObject({ ready: true, flagCount: 2, redis: 'ready' });
  expect(await flags.isEnabled('on', 'user-1')).toBe(true);
  expect(await flags.isEnabled('off', 'user-1')).toBe(false);
  await app.close();
}

describe('PostHogFlagsModule', () => {
  it('boots with forRoot', async () => {
    await expectWorkingFlags(await boot([PostHogFlagsModule.forRoot(baseOptions())]));
  });

  it('boots with forRootAsync useFactory + inject + imports', async () => {
    const app = await boot([
      PostHogFlagsModule.forRootAsync({
        imports: [ConfigModule],
        inject: [FlagsConfig],
        useFactory: async (config: FlagsConfig) => config.create(),
      }),
    ]);
    await expectWorkingFlags(app);
  });

  it('boots with forRootAsync useClass', async () => {
    await expectWorkingFlags(
      await boot([PostHogFlagsModule.forRootAsync({ useClass: OptionsFactory })]),
    );
  });

  it('boots with forRootAsync useExisting', async () => {
    const app = await boot([
      PostHogFlagsModule.forRootAsync({
        imports: [OptionsFactoryModule],
        useExisting: OptionsFactory,
      }),
    ]);
    await expectWorkingFlags(app);
  });

  it('isGlobal makes the service injectable in every module', async () => {
    @Injectable()
    class Consumer {
      constructor(
        readonly flags: FeatureFlagsService,
        @InjectPostHog() readonly posthog: PostHog,
        @InjectPostHogFlagsRedis() readonly redis: Redis,
      ) {}
    }
    @Module({ providers: [Consumer], exports: [Consumer] })
    class FeatureModule {}

    const app = await boot([
      PostHogFlagsModule.forRootAsync({ isGlobal: true, useFactory: baseOptions }),
      FeatureModule,
    ]);
    const consumer = app.get(Consumer);
    expect(consumer.posthog).toBeInstanceOf(PostHog);
    expect(consumer.redis).toBe(app.get(POSTHOG_FLAGS_REDIS));
    expect(await consumer.redis.ping()).toBe('PONG');
    await expectWorkingFlags(app);
  });

  it('with isGlobal, gates controllers of other modules (guard and @FlagValue resolve there)', async () => {
    @Controller('feature')
    class FeatureController {
      @Get()
      @FeatureFlag('on')
      get(@FlagValue('on') on: boolean) {
        return { on };
      }
    }
    @Module({ controllers: [FeatureController] })
    class FeatureModule {}

    const app = await boot([
      PostHogFlagsModule.forRoot({ ...baseOptions(), isGlobal: true, distinctId: () => 'u1' }),
      FeatureModule,
    ]);
    await request(app.getHttpServer()).get('/feature').expect(200, { on: true });
    await app.close();
  });

  it.each([
    ['forRoot', () => PostHogFlagsModule.forRoot({ ...baseOptions(), pollingIntervalMs: -5 })],
    [
      'forRootAsync',
      () =>
        PostHogFlagsModule.forRootAsync({
          useFactory: () => ({ ...baseOptions(), pollingIntervalMs: -5 }),
        }),
    ],
  ])(
    '%s fails at startup on a bad option, naming it and never the secret',
    async (_name, module) => {
      const failure = await boot([module()]).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(/pollingIntervalMs must be an integer ≥ 100 \(got -5\)/);
      expect(failure?.message).not.toContain(fake.secretKey);
    },
  );

  it('never closes a Redis client it was given', async () => {
    const client = new Redis(redis.url);
    const app = await boot([PostHogFlagsModule.forRoot({ ...baseOptions(), redis: { client } })]);
    expect(app.get(POSTHOG_FLAGS_REDIS)).toBe(client);
    await expectWorkingFlags(app);
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('connects with plain ioredis options too', async () => {
    const { hostname, port } = new URL(redis.url);
    const app = await boot([
      PostHogFlagsModule.forRoot({
        ...baseOptions(),
        redis: { host: hostname, port: Number(port) },
      }),
    ]);
    await expectWorkingFlags(app);
  });

  it('closes every Redis connection it opened (commands and change notices) on shutdown', async () => {
    // A private server, so other suites sharing REDIS_URL cannot move the count.
    const server = await RedisServer.start();
    const observer = new Redis(server.url);
    const connected = async () =>
      Number(/connected_clients:(\d+)/.exec(await observer.info('clients'))![1]);
    const before = await connected();
    const app = await boot([PostHogFlagsModule.forRoot({ ...baseOptions(), redis: server.url })]);
    const client: Redis = app.get(POSTHOG_FLAGS_REDIS);
    expect(client.status).toBe('ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await connected()).toBe(before + 2); // a command connection and a subscriber
    await app.close();
    expect(client.status).toBe('end');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await connected()).toBe(before);
    observer.disconnect();
    await server.stop();
  });
});
