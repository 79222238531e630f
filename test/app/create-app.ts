import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { AppModule } from './app.module.js';

export type HttpAdapterName = 'express' | 'fastify';

/** Builds the example app on Express or Fastify (e2e tests, the worker process and `npm start`). */
export async function createApp(
  flags: PostHogFlagsModuleOptions,
  adapter: HttpAdapterName = 'express',
  appOptions?: NestApplicationOptions,
): Promise<INestApplication> {
  const httpAdapter = adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(AppModule.register(flags), httpAdapter, {
    logger: ['error', 'warn', 'log'],
    ...appOptions,
  });
  app.enableShutdownHooks();
  return app;
}
