// Boots the consumer app built against the packed tarball and checks gating over HTTP.
// Plain node on tsc output (no ts-jest, no loader): what a user's production build runs.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, Type } from '@nestjs/common';
import request from 'supertest';
import { AppModule, sharedAppModule, TestingAppModule } from './app.module.js';
import { FeatureFlagsService } from 'nestjs-posthog-flags';
import { connectRedis, redisLibrary } from './redis-client.js';

async function boot(module: Type): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: ['error', 'warn'] });
  await app.init();
  return app;
}

async function main(name: string): Promise<void> {
  const app = await boot(AppModule);
  try {
    const http = app.getHttpServer();
    await request(http)
      .get('/checkout')
      .set('x-user-id', 'user-1')
      .expect(200, { checkout: 'new', role: 'offline' });
    // No distinct id: denied by default (404), not evaluated as someone.
    await request(http).get('/checkout').expect(404);
    await request(http).get('/other').set('x-user-id', 'user-1').expect(404);
  } finally {
    await app.close();
  }

  const testing = await boot(TestingAppModule);
  try {
    await request(testing.getHttpServer()).get('/checkout').set('x-user-id', 'user-1').expect(404);
  } finally {
    await testing.close();
  }
  const shared = await checkSharedMode();
  console.log(`consumer ${name}: ok (${shared})`);
}

/** The app's own Redis client as `{ client }`: this process leads, writes Redis and serves the gate. */
async function checkSharedMode(): Promise<string> {
  const { REDIS_URL, FAKE_POSTHOG_URL, FAKE_POSTHOG_PROJECT_API_KEY, FAKE_POSTHOG_SECRET_KEY } =
    process.env;
  if (process.argv.includes('--offline-only'))
    return `offline only: shared mode with ${redisLibrary} SKIPPED`;
  if (
    !REDIS_URL ||
    !FAKE_POSTHOG_URL ||
    !FAKE_POSTHOG_PROJECT_API_KEY ||
    !FAKE_POSTHOG_SECRET_KEY
  ) {
    throw new Error('REDIS_URL and FAKE_POSTHOG_* must be set (check.sh starts both)');
  }
  const redis = await connectRedis(REDIS_URL);
  const app = await boot(
    sharedAppModule({
      client: redis.client,
      host: FAKE_POSTHOG_URL,
      projectApiKey: FAKE_POSTHOG_PROJECT_API_KEY,
      secretKey: FAKE_POSTHOG_SECRET_KEY,
    }),
  );
  try {
    const status = app.get(FeatureFlagsService).status();
    if (status.role !== 'leader' || status.redis !== 'ready') {
      throw new Error(`expected the leader on a ready Redis, got ${JSON.stringify(status)}`);
    }
    const http = app.getHttpServer();
    await request(http)
      .get('/checkout')
      .set('x-user-id', 'user-1')
      .expect(200, { checkout: 'new', role: 'leader' });
    await request(http).get('/other').set('x-user-id', 'user-1').expect(404);
  } finally {
    await app.close();
    await redis.close();
  }
  return `shared mode with the app's own ${redisLibrary} client: leader, gated route served`;
}

main(process.argv[2] ?? 'app').catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
