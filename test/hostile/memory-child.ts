/**
 * A real process for the memory test (issue 14, finding 2): a Nest app whose gated POST route takes
 * the user's id and person properties from the JSON body, as an app trusting a client's claims
 * would. Config: MEMORY_CHILD_OPTIONS (JSON module options). Tells the parent its port over IPC.
 * GET /memory answers RSS and heap after a full GC (run with --expose-gc), and the memo's usage.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Module, Post, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FlagEvaluator } from '../../src/evaluation/flag-evaluator.js';
import {
  FeatureFlag,
  FeatureFlagsService,
  PostHogFlagsModule,
  type PostHogFlagsModuleOptions,
} from '../../src/index.js';

let evaluator: FlagEvaluator | undefined;

@Controller()
class MemoryController {
  constructor(private readonly flags: FeatureFlagsService) {}

  @Post('gated')
  @FeatureFlag('new-checkout')
  gated(@Body() _body: unknown) {
    return { ok: true };
  }

  @Get('memory')
  memory() {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed, memo: evaluator?.memoUsage, status: this.flags.status() };
  }
}

@Module({})
class MemoryModule {
  static register(options: PostHogFlagsModuleOptions): DynamicModule {
    return {
      module: MemoryModule,
      imports: [
        PostHogFlagsModule.forRoot({
          ...options,
          // A text/plain body is the id itself; a JSON body carries `id` and `props`.
          distinctId: (req) => (typeof req.body === 'string' ? req.body : req.body?.id),
          personProperties: (req) => req.body?.props,
        }),
      ],
      controllers: [MemoryController],
    };
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.MEMORY_CHILD_OPTIONS ?? '{}');
  const app = await NestFactory.create<NestExpressApplication>(MemoryModule.register(options), {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.useBodyParser('json', { limit: '4mb' });
  app.useBodyParser('text', { limit: '4mb' });
  evaluator = app.get(FlagEvaluator);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.send?.({ type: 'ready', port: address.port });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error('memory child failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
