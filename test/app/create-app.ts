import 'reflect-metadata';
import {
  Module,
  type INestApplication,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
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
  /** Test-only modules next to the app (e.g. a probe of what listeners saw). */
  extraModules: Type[] = [],
): Promise<INestApplication> {
  const httpAdapter = adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const root = AppModule.register(flags);
  const app = await NestFactory.create(
    extraModules.length ? { module: AppWithExtras, imports: [root, ...extraModules] } : root,
    httpAdapter,
    {
      logger: ['error', 'warn', 'log'],
      ...appOptions,
    },
  );
  app.enableShutdownHooks();
  return app;
}

@Module({})
class AppWithExtras {}
