/**
 * A child process running the example app with the module, for multi-process tests.
 * Config: WORKER_OPTIONS (JSON module options), WORKER_ADAPTER (express|fastify).
 * Tells the parent `{ type: 'ready', port }` over IPC; `{ type: 'shutdown' }` closes the app;
 * `{ type: 'cpu' }` is answered with the process's `process.cpuUsage()`.
 */
import { createApp, type HttpAdapterName } from '../app/create-app.js';

async function main(): Promise<void> {
  const options = JSON.parse(process.env.WORKER_OPTIONS ?? '{}');
  const adapter = (process.env.WORKER_ADAPTER ?? 'express') as HttpAdapterName;
  const app = await createApp(options, adapter);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  process.send?.({ type: 'ready', port: address.port });
  process.on('message', (message: { type?: string }) => {
    // CPU time is measured inside the process: a probe over HTTP would add its own cost.
    if (message?.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
    if (message?.type !== 'shutdown') return;
    void app.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

process.on('unhandledRejection', (reason) => {
  console.error('UNHANDLED REJECTION', reason);
});

main().catch((error: unknown) => {
  console.error('worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
