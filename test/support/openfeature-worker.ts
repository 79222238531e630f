/**
 * A child process running `OpenFeatureAppModule` (WORKER_OPTIONS: JSON module options). Tells the
 * parent `{ type: 'ready', port }`; once told `{ type: 'openfeature-listen' }`, every OpenFeature
 * provider event (earlier ones first) as `{ type: 'openfeature', event, at, flagsChanged?, message? }`.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { OpenFeature, ProviderEvents } from '@openfeature/nestjs-sdk';
import { PostHogFlagsProvider } from '../../src/openfeature/index.js';
import { OpenFeatureAppModule } from './openfeature-app.js';

async function main(): Promise<void> {
  // Events before the parent listens (READY comes while the app boots) are held until it does.
  let held: object[] | undefined = [];
  const send = (message: object) => (held ? held.push(message) : process.send?.(message));
  for (const event of Object.values(ProviderEvents)) {
    OpenFeature.addHandler(event, (details) => {
      send({
        type: 'openfeature',
        event,
        at: Date.now(),
        flagsChanged: details?.flagsChanged,
        message: details?.message,
      });
    });
  }
  const provider = new PostHogFlagsProvider(undefined, { healthCheckIntervalMs: 100 });
  const options = JSON.parse(process.env.WORKER_OPTIONS ?? '{}');
  const app = await NestFactory.create(OpenFeatureAppModule.register(options, provider), {
    logger: ['error', 'warn'],
  });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  process.send?.({ type: 'ready', port: app.getHttpServer().address().port });
  // The parent listens once `start()` resolved, and says so.
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'openfeature-listen' || !held) return;
    for (const event of held) process.send?.(event);
    held = undefined;
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error(
    'openfeature worker failed to start:',
    error instanceof Error ? error.message : error,
  );
  process.exit(1);
});
