/**
 * Remote mode (no secret key, no Redis) with PostHog black-holed: gated requests must not wait for
 * it. After a few calls time out, the breaker fails `/flags` calls at once (flags off, requests
 * denied), and the log says PostHog is failing, not that the flag is unknown.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import request from 'supertest';
import { createApp } from './app/create-app.js';
import { BlackHoleServer } from './support/black-hole-server.js';
import { percentile } from './support/stats.js';

const logs: string[] = [];
const logger: LoggerService = {
  log: (message: unknown) => logs.push(String(message)),
  warn: (message: unknown) => logs.push(String(message)),
  error: (message: unknown) => logs.push(String(message)),
};

async function gatedRequest(
  app: INestApplication,
  path = '/checkout',
): Promise<{ status: number; ms: number }> {
  const startedAt = performance.now();
  const response = await request(app.getHttpServer())
    .get(path)
    .set('authorization', 'Bearer user-1');
  return { status: response.status, ms: performance.now() - startedAt };
}

describe('remote mode with PostHog black-holed', () => {
  let blackHole: BlackHoleServer;
  let app: INestApplication;

  beforeAll(async () => {
    blackHole = await BlackHoleServer.start();
    app = await createApp(
      { projectApiKey: 'phc_remote_breaker', host: `http://127.0.0.1:${blackHole.port}` },
      'express',
      { logger },
    );
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await blackHole.close();
  });

  it('fails closed fast once the breaker opens: p99 of a gated request ≤ 50 ms, and says why', async () => {
    const first = [];
    for (let i = 0; i < 3; i++) first.push(await gatedRequest(app));
    const timings = [];
    for (let i = 0; i < 200; i++) timings.push(await gatedRequest(app));
    const ms = timings.map((t) => t.ms);
    // The same app's ungated route over as many requests: what a request costs on this machine.
    const ungated: number[] = [];
    for (let i = 0; i < 200; i++) ungated.push((await gatedRequest(app, '/checkout/help')).ms);
    const p50 = percentile(ms, 50);
    const p99 = percentile(ms, 99);
    console.log(
      `remote mode, PostHog black-holed: first 3 gated requests ${first.map((t) => t.ms.toFixed(0)).join('/')} ms ` +
        `(the /flags timeout), then over 200 requests p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms; ` +
        `an ungated route p50 ${percentile(ungated, 50).toFixed(1)} ms, p99 ${percentile(ungated, 99).toFixed(1)} ms`,
    );
    for (const t of [...first, ...timings]) expect(t.status).toBe(404); // denied: fail closed
    for (const t of first) expect(t.ms).toBeLessThan(2_500); // bounded even before the breaker
    // 50 ms, or, on a machine where an ungated request alone takes longer, no more than it plus
    // 10 ms: the breaker adds no wait of its own.
    expect(p99).toBeLessThanOrEqual(Math.max(50, percentile(ungated, 99) + 10));
    expect(logs.some((l) => /PostHog remote evaluation is failing/.test(l))).toBe(true);
    expect(logs.some((l) => /Unknown feature flag/.test(l))).toBe(false);
    const status = (await request(app.getHttpServer()).get('/flags/status')).body;
    expect(status).toMatchObject({ role: 'remote', ready: false });
    expect(status.lastError).toMatch(/remote evaluation/);
  });
});
