// Boots the consumer app built against the packed tarball and checks gating over HTTP.
// Plain node on tsc output (no ts-jest, no loader): what a user's production build runs.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, Type } from '@nestjs/common';
import request from 'supertest';
import { AppModule, TestingAppModule } from './app.module.js';

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
  console.log(`consumer ${name}: ok`);
}

main(process.argv[2] ?? 'app').catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
