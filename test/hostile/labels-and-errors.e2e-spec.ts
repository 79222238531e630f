import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Registry } from 'prom-client';
import { FeatureFlagsService } from '../../src/index.js';
import { createApp } from '../app/create-app.js';
import { FakePostHog, booleanFlag } from '../support/fake-posthog.js';
import { CountingLogger } from './counting-logger.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** Issue 14, finding 7: metric labels from requests, and a `lastError` that outlived recovery. */
describe('hostile input: metric labels and error history', () => {
  let fake: FakePostHog;
  let app: INestApplication;
  const registry = new Registry();
  const logger = new CountingLogger();

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: { flags: [booleanFlag('new-checkout')] } });
    app = await createApp(
      {
        projectApiKey: fake.projectApiKey,
        secretKey: fake.secretKey,
        host: fake.url,
        pollingIntervalMs: 100,
        metrics: { registry },
      },
      'express',
      { logger },
    );
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('counts checks of 20 000 unknown keys under one label, in a bounded log', async () => {
    const flags = app.get(FeatureFlagsService);
    for (let i = 0; i < 20_000; i++) {
      await flags.isEnabled(`probe-${i}`, 'mallory');
      // Requests arrive through I/O: let the loop breathe, as it does between real requests (a
      // chain of 20 000 microtask-only awaits would starve the definitions poll, a test artefact).
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await flags.isEnabled('new-checkout', 'alice')).toBe(true);
    const text = await registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('posthog_flags_evaluations_total{'));
    const unknownLines = logger.problems(/Unknown feature flag/).length;
    console.log(
      `labels: 20 000 unknown keys → ${series.length} evaluations_total series, /metrics ` +
        `${text.length} bytes, ${unknownLines} log lines`,
    );
    // 20 named, then one a minute.
    expect(unknownLines).toBeLessThanOrEqual(21);
    expect(series).toEqual([
      'posthog_flags_evaluations_total{flag="(unknown)",result="disabled"} 20000',
      'posthog_flags_evaluations_total{flag="new-checkout",result="enabled"} 1',
    ]);
    expect(text.length).toBeLessThan(10_000);
  });

  it('clears lastError on recovery and keeps the last one with its time', async () => {
    const flags = app.get(FeatureFlagsService);
    expect(flags.status()).toMatchObject({
      lastError: null,
      previousError: null,
      lastErrorAt: null,
    });
    const failedFrom = Date.now();
    fake.setFault({ kind: 'status', status: 502 });
    await until(() => flags.status().lastError !== null);
    const failing = flags.status();
    expect(failing.lastError).toMatch(/server error/);
    expect(failing.previousError).toBe(failing.lastError);
    fake.setFault(undefined);
    await until(() => flags.status().lastError === null);
    const recovered = flags.status();
    console.log(`errors: after recovery ${JSON.stringify(recovered).slice(0, 300)}`);
    expect(recovered.previousError).toMatch(/server error/);
    expect(recovered.lastErrorAt).toBeGreaterThanOrEqual(failedFrom);
    expect(recovered.lastErrorAt).toBeLessThanOrEqual(Date.now());
  });
});
