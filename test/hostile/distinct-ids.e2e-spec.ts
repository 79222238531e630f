import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { createApp } from '../app/create-app.js';
import { FakePostHog, booleanFlag } from '../support/fake-posthog.js';
import { CountingLogger } from './counting-logger.js';

/**
 * Issue 14, finding 6. The app reads the user from claims the client sends (as a JWT's `sub` can be
 * any JSON type): whatever JSON arrives reaches the `distinctId` and `personProperties` resolvers,
 * and malformed JSON makes them throw.
 */
const claims = (req: any): any => JSON.parse(String(req.headers['x-claims'] ?? 'null'));
const resolvers: Partial<PostHogFlagsModuleOptions> = {
  distinctId: (req) => claims(req)?.sub,
  personProperties: (req) => claims(req)?.props,
};

const deep = (depth: number): unknown => (depth === 0 ? 'x' : { a: deep(depth - 1) });
/** Every kind of hostile `sub`; each counts as missing (or, when the JSON is broken, throws). */
const HOSTILE: string[] = [
  ...[{}, { a: 1 }, deep(1_000), ['a', 'b'], false, true, { toString: 1 }, { toString: {} }].map(
    (sub) => JSON.stringify({ sub }),
  ),
  '{"sub": 1e400}', // Infinity
  JSON.stringify({ sub: '' }),
  JSON.stringify({ sub: 'x'.repeat(201) }),
  JSON.stringify({ sub: 'x'.repeat(8_000) }), // near Node's 16 KiB header limit
  '{"sub": ', // malformed: the resolver throws
  JSON.stringify({ sub: 'alice', props: { plan: 'beta' } }).slice(0, -3), // malformed too
];

describe('hostile input: distinct ids and throwing resolvers', () => {
  let fake: FakePostHog;
  const apps: INestApplication[] = [];

  async function startApp(extra: Partial<PostHogFlagsModuleOptions>) {
    const logger = new CountingLogger();
    const app = await createApp(
      {
        projectApiKey: fake.projectApiKey,
        secretKey: fake.secretKey,
        host: fake.url,
        pollingIntervalMs: 200,
        ...resolvers,
        ...extra,
      },
      'express',
      { logger },
    );
    await app.init();
    apps.push(app);
    return { http: request(app.getHttpServer()), logger };
  }

  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: { flags: [booleanFlag('new-checkout')] } });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await fake?.close();
  });

  for (const mode of ['deny', 'anonymous'] as const) {
    it(`never answers 500, denies every hostile id, logs a bounded number of lines (${mode})`, async () => {
      const { http, logger } = await startApp({ onMissingDistinctId: mode });
      const before = logger.problems().length;
      const statuses = new Map<number, number>();
      const started = performance.now();
      for (let i = 0; i < 1_000; i++) {
        const sent = HOSTILE[i % HOSTILE.length];
        const { status } = await http.get('/checkout').set('x-claims', sent);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const missing = !sent.endsWith('}') || /"sub":\s*[^"]|"sub":""|x{201}/.test(sent);
        // Anonymous mode evaluates missing ids as "anonymous" (flag on: 200); a throwing resolver
        // denies in both modes.
        const expected = mode === 'anonymous' && sent.endsWith('}') && missing ? 200 : 404;
        if (status !== expected)
          throw new Error(`${sent.slice(0, 80)}: ${status}, not ${expected}`);
      }
      const elapsed = performance.now() - started;
      const lines = logger.problems().slice(before);
      const bytes = lines.reduce((sum, line) => sum + line.length, 0);
      console.log(
        `distinct ids (${mode}): 1 000 hostile requests in ${elapsed.toFixed(0)} ms, statuses ` +
          `${JSON.stringify(Object.fromEntries(statuses))}, ${lines.length} log lines (${bytes} bytes)`,
      );
      expect(statuses.get(500) ?? 0).toBe(0);
      // At most one line a minute for each kind (a resolver threw; an id was refused).
      expect(lines.length).toBeLessThanOrEqual(2);
      expect(lines.join('\n')).not.toContain('x'.repeat(201));

      // Real ids still work: strings and finite numbers.
      for (const sub of ['"alice"', '12345']) {
        const ok = await http.get('/checkout').set('x-claims', `{"sub": ${sub}}`);
        expect(ok.status).toBe(200);
      }
    });
  }
});
