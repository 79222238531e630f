import { describe } from '@jest/globals';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { type INestApplication } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import type { PostHogFlagsTestingOptions } from '../../src/index.js';
import { itGatesGraphQL } from './graphql-contract.js';
import { ShippingResolver } from './graphql-resolvers.js';
import { flagsApp } from './support.js';

async function startApollo(options: PostHogFlagsTestingOptions = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(
    flagsApp(
      {
        imports: [
          GraphQLModule.forRoot<ApolloDriverConfig>({
            driver: ApolloDriver,
            autoSchemaFile: true,
            fieldResolverEnhancers: ['guards'],
            allowBatchedHttpRequests: true,
            // As in development: a denial must still carry no stack frames.
            includeStacktraceInErrorResponses: true,
          }),
        ],
        providers: [ShippingResolver],
      },
      options,
    ),
  ).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('GraphQL (Apollo, code-first)', () => {
  itGatesGraphQL(startApollo);
});
