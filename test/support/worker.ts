/**
 * A child process running the example app with the module, for multi-process tests.
 * Config: WORKER_OPTIONS (JSON module options), WORKER_ADAPTER (express|fastify), and
 * FLAGS_REDIS_CLIENT (test/support/redis-client-kind.ts: which client the app hands the module), and
 * WORKER_CHANGE_PROBE=1 (adds test/support/change-probe.module.ts: `GET /change-probe`).
 * Tells the parent `{ type: 'ready', port }` over IPC; `{ type: 'shutdown' }` closes the app;
 * `{ type: 'cpu' }` is answered with the process's `process.cpuUsage()`.
 */
import { createApp, type HttpAdapterName } from '../app/create-app.js';
import { ChangeProbeModule } from './change-probe.module.js';
import { withAppRedisClient } from './redis-client-kind.js';

async function main(): Promise<void> {
  const redis = await withAppRedisClient(JSON.parse(process.env.WORKER_OPTIONS ?? '{}'));
  const adapter = (process.env.WORKER_ADAPTER ?? 'express') as HttpAdapterName;
  const extras = process.env.WORKER_CHANGE_PROBE === '1' ? [ChangeProbeModule] : [];
  const app = await createApp(redis.options, adapter, undefined, extras);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  process.send?.({ type: 'ready', port: address.port });
  // The app's own Redis client (if any) outlives the module and is closed by the app, last.
  const shutdown = () =>
    void app
      .close()
      .then(() => redis.close())
      .then(() => process.exit(0));
  process.on('message', (message: { type?: string }) => {
    // CPU time is measured inside the process: a probe over HTTP would add its own cost.
    if (message?.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    if (message?.type === 'shutdown') shutdown();
  });
  process.on('disconnect', shutdown);
}

process.on('unhandledRejection', (reason) => {
  console.error('UNHANDLED REJECTION', reason);
});

main().catch((error: unknown) => {
  console.error('worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
