import { describe } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { PostHogFlagsTestingOptions } from '../../src/index.js';
import { itGatesGraphQL } from './graphql-contract.js';
import { ShippingResolver } from './graphql-resolvers.js';
import { flagsApp } from './support.js';

async function startMercurius(options: PostHogFlagsTestingOptions = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(
    flagsApp(
      {
        imports: [
          GraphQLModule.forRoot<MercuriusDriverConfig>({
            driver: MercuriusDriver,
            autoSchemaFile: true,
            fieldResolverEnhancers: ['guards'],
            allowBatchedQueries: true,
          }),
        ],
        providers: [ShippingResolver],
      },
      options,
    ),
  ).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe('GraphQL (Mercurius on Fastify, code-first)', () => {
  itGatesGraphQL(startMercurius);
});
