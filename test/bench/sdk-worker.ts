/**
 * A baseline process: posthog-node used directly, without this module — polling alone (`alone`)
 * or through the naive Redis cache of posthog-node's docs (`naive`). Serves the same probe routes
 * as the example app: `GET /checkout` (200 when the gate is on for the bearer user, else 404) and
 * `GET /status`. Config: BENCH_SDK_WORKER (JSON). Reports `{ type: 'ready', port }` over IPC.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { PostHog } from 'posthog-node';
import { GATE_FLAG } from './config.js';
import { NaiveFlagDefinitionCache } from './naive-flag-cache.js';

export interface SdkWorkerConfig {
  mode: 'alone' | 'naive';
  projectApiKey: string;
  secretKey: string;
  host: string;
  pollingIntervalMs: number;
  /** Required for `naive`. */
  redisUrl?: string;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_SDK_WORKER ?? '{}') as SdkWorkerConfig;
  const redis =
    config.mode === 'naive' ? new Redis(config.redisUrl!, { maxRetriesPerRequest: 1 }) : undefined;
  redis?.on('error', () => undefined);
  const cache = redis
    ? new NaiveFlagDefinitionCache(redis, config.projectApiKey, config.pollingIntervalMs)
    : undefined;
  const posthog = new PostHog(config.projectApiKey, {
    host: config.host,
    secretKey: config.secretKey,
    featureFlagsPollingInterval: config.pollingIntervalMs,
    flagDefinitionCacheProvider: cache,
  });
  posthog.on('error', () => undefined);

  const server = createServer((req, res) => {
    if (req.url === '/status') {
      const body = { ready: posthog.isLocalEvaluationReady(), role: config.mode };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    const user = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (req.url !== '/checkout' || !user) {
      res.writeHead(404).end();
      return;
    }
    posthog
      .evaluateFlags(user, { flagKeys: [GATE_FLAG], onlyEvaluateLocally: true })
      .then((flags) => {
        const on = flags.getFlag(GATE_FLAG, { sendFeatureFlagEvents: false }) === true;
        res.writeHead(on ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ enabled: on }));
      })
      .catch(() => res.writeHead(500).end());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  process.send?.({ type: 'ready', port });

  // The parent going away (or killing us) ends this process too.
  process.on('disconnect', () => {
    server.close();
    void posthog
      .shutdown(1_000)
      .catch(() => undefined)
      .finally(() => {
        redis?.disconnect();
        process.exit(0);
      });
  });
}

main().catch((error: unknown) => {
  console.error('sdk worker failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
