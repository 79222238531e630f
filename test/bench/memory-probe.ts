/**
 * Child entry for figure 7: a Nest application context holding the definitions, either through
 * this module (shared mode) or through posthog-node used directly (polling alone) — the same
 * framework on both sides, so the difference is what each keeps. Run with --expose-gc.
 * Config: BENCH_MEMORY_PROBE (JSON). `ready` once loaded and exercised; answers `measure`.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PostHog } from 'posthog-node';
import { FeatureFlagsService, PostHogFlagsModule } from '../../src/index.js';
import { GATE_FLAG, PROJECT_API_KEY, SECRET_KEY } from './config.js';
import { sleep } from './http-probe.js';

export interface MemoryProbeConfig {
  mode: 'module' | 'posthog';
  host: string;
  redisUrl: string;
  pollingIntervalMs: number;
}

export interface MemoryReading {
  type: 'memory';
  rss: number;
  heapUsed: number;
  role: string;
  /** NaN for posthog-node (it has no public count). */
  flagCount: number;
}

@Module({})
class EmptyModule {}

const USERS = Array.from({ length: 200 }, (_, i) => `user-${i}`);

async function startModule(
  config: MemoryProbeConfig,
): Promise<() => { role: string; flagCount: number }> {
  const app = await NestFactory.createApplicationContext(
    {
      module: EmptyModule,
      imports: [
        PostHogFlagsModule.forRoot({
          projectApiKey: PROJECT_API_KEY,
          secretKey: SECRET_KEY,
          host: config.host,
          redis: config.redisUrl,
          pollingIntervalMs: config.pollingIntervalMs,
        }),
      ],
    },
    { logger: ['error'] },
  );
  const flags = app.get(FeatureFlagsService);
  for (const user of USERS) await flags.isEnabled(GATE_FLAG, user);
  return () => {
    const status = flags.status();
    return { role: status.role, flagCount: status.flagCount };
  };
}

async function startPostHog(
  config: MemoryProbeConfig,
): Promise<() => { role: string; flagCount: number }> {
  await NestFactory.createApplicationContext(EmptyModule, { logger: ['error'] });
  const posthog = new PostHog(PROJECT_API_KEY, {
    host: config.host,
    secretKey: SECRET_KEY,
    featureFlagsPollingInterval: config.pollingIntervalMs,
  });
  posthog.on('error', () => undefined);
  await posthog.waitForLocalEvaluationReady(10_000);
  for (const user of USERS) {
    const evaluated = await posthog.evaluateFlags(user, {
      flagKeys: [GATE_FLAG],
      onlyEvaluateLocally: true,
    });
    evaluated.getFlag(GATE_FLAG);
  }
  // Same workload as the module side: nothing more (an all-flags evaluation would inflate RSS).
  return () => ({ role: 'posthog-node', flagCount: Number.NaN });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_MEMORY_PROBE ?? '{}') as MemoryProbeConfig;
  const describe =
    config.mode === 'module' ? await startModule(config) : await startPostHog(config);
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'measure') return;
    void (async () => {
      // Several full collections with pauses: what stays is what the process holds.
      for (let i = 0; i < 4; i++) {
        gc?.();
        await sleep(50);
      }
      const { rss, heapUsed } = process.memoryUsage();
      const reading: MemoryReading = { type: 'memory', rss, heapUsed, ...describe() };
      process.send?.(reading);
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

main().catch((error: unknown) => {
  console.error('memory probe failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
