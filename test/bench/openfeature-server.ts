/** Child entry: the OpenFeature comparison app on Express, on a free loopback port (`ready` over IPC). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { OpenFeatureBenchModule } from './openfeature-app.js';

async function main(): Promise<void> {
  const app = await NestFactory.create(OpenFeatureBenchModule, new ExpressAdapter(), {
    logger: ['error', 'warn'],
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.send?.({ type: 'ready', port });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error('openfeature server failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
