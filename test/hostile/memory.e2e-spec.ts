import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';
import { FakePostHog, booleanFlag } from '../support/fake-posthog.js';

const CHILD = join(process.cwd(), '.build/test/hostile/memory-child.js');
const MiB = 1024 * 1024;

interface Memory {
  rss: number;
  heapUsed: number;
  memo: { bytes: number; entries: number };
}

/** A real child process, so the figures are the app's, not Jest's. */
async function startChild(options: PostHogFlagsModuleOptions) {
  const child: ChildProcess = fork(CHILD, [], {
    env: { ...process.env, MEMORY_CHILD_OPTIONS: JSON.stringify(options) },
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'ready') resolve(m.port!);
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}):\n${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    output: () => output,
    memory: async (): Promise<Memory> => (await fetch(`${url}/memory`)).json() as Promise<Memory>,
    /** `count` POSTs to the gated route, 4 at a time; returns how many got each status. */
    async send(count: number, body: (i: number) => string | Buffer) {
      const statuses: Record<number, number> = {};
      let next = 0;
      const lane = async () => {
        while (next < count) {
          const i = next++;
          const sent = body(i);
          const response = await fetch(`${url}/gated`, {
            method: 'POST',
            headers: { 'content-type': Buffer.isBuffer(sent) ? 'text/plain' : 'application/json' },
            body: sent,
          });
          await response.arrayBuffer();
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      return statuses;
    },
    stop: () => {
      child.disconnect();
      return new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

describe('hostile input: memory under huge distinct ids and properties', () => {
  let fake: FakePostHog;
  beforeAll(async () => {
    fake = await FakePostHog.start({ definitions: { flags: [booleanFlag('new-checkout')] } });
  });
  afterAll(async () => fake?.close());

  const options = (): PostHogFlagsModuleOptions => ({
    projectApiKey: fake.projectApiKey,
    secretKey: fake.secretKey,
    host: fake.url,
    pollingIntervalMs: 1_000,
  });

  it('stays bounded under 5 000 different 1 MiB distinct ids', async () => {
    // 5 GB through loopback and the body parser: minutes on a shared 2-core machine.
    const app = await startChild(options());
    try {
      await app.send(20, (i) => JSON.stringify({ id: `warm-${i}` }));
      const before = await app.memory();
      const started = Date.now();
      // Raw bytes, no JSON: the parent's cost stays small; every id differs in its first bytes.
      const statuses = await app.send(5_000, (i) => {
        const id = Buffer.alloc(MiB, 'x');
        id.write(String(i).padStart(8, '0'));
        return id;
      });
      const after = await app.memory();
      console.log(
        `memory, 5 000 × 1 MiB ids: ${((Date.now() - started) / 1e3).toFixed(1)} s, statuses ` +
          `${JSON.stringify(statuses)}, RSS ${mb(before.rss)} → ${mb(after.rss)}, heap ` +
          `${mb(before.heapUsed)} → ${mb(after.heapUsed)}, memo ${after.memo.entries} entries`,
      );
      // Over maxDistinctIdLength (200): missing, so denied; nothing of them is kept.
      expect(statuses).toEqual({ 404: 5_000 });
      expect(after.heapUsed - before.heapUsed).toBeLessThan(50 * 1e6);
      expect(after.rss).toBeLessThan(before.rss + 200 * 1e6);
    } finally {
      await app.stop();
    }
  }, 400_000);

  it('keeps the memo within evaluationCacheMaxBytes under huge person properties', async () => {
    const budget = 16 * MiB;
    const app = await startChild(options());
    try {
      // 100 properties of 1 000 characters (the default maxPropertyLength): ~100 kB a user.
      const props = (i: number) =>
        Object.fromEntries(
          Array.from({ length: 100 }, (_, k) => [`p${k}`, `${i}`.padEnd(1_000, 'y')]),
        );
      await app.send(20, (i) => JSON.stringify({ id: `warm-${i}` }));
      const before = await app.memory();
      const started = Date.now();
      const statuses = await app.send(1_000, (i) =>
        JSON.stringify({ id: `user-${i}`, props: props(i) }),
      );
      const after = await app.memory();
      console.log(
        `memory, 1 000 users × 100 kB properties: ${((Date.now() - started) / 1e3).toFixed(1)} s, ` +
          `statuses ${JSON.stringify(statuses)}, RSS ${mb(before.rss)} → ${mb(after.rss)}, heap ` +
          `${mb(before.heapUsed)} → ${mb(after.heapUsed)}, memo ${after.memo.entries} entries ` +
          `${mb(after.memo.bytes)} (budget ${mb(budget)})`,
      );
      expect(statuses).toEqual({ 201: 1_000 });
      expect(after.memo.bytes).toBeLessThanOrEqual(budget);
      expect(after.memo.entries).toBeGreaterThan(10);
      // Unbounded, 1 000 entries of 100 kB properties (the key, the SDK's copy) hold over 200 MB.
      expect(after.heapUsed - before.heapUsed).toBeLessThan(150 * 1e6);
    } finally {
      await app.stop();
    }
  }, 200_000);
});
