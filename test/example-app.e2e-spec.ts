import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './support/free-port.js';

/**
 * `npm start` as a newcomer runs it, minus its prestart build (`--ignore-scripts` skips pre-scripts;
 * the suite has built .build already, and rebuilding it would pull it from under parallel specs).
 */
describe('the example app on its embedded default (no PostHog, no Redis, no .env)', () => {
  let app: ChildProcess;
  let base: string;
  let output = '';

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      EXAMPLE_ENV_FILE: '/nonexistent/.env',
    };
    for (const name of Object.keys(env)) {
      if (name.startsWith('POSTHOG_') || name === 'REDIS_URL') delete env[name];
    }
    // npm itself, so its signal handling is part of what is tested.
    // Its own process group, so cleanup reaches a node child even if npm left one behind.
    app = spawn('npm', ['start', '--ignore-scripts', '--silent'], { env, detached: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no start banner in 15 s:\n${output}`)),
        15_000,
      );
      const collect = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('# terminus health')) {
          clearTimeout(timer);
          resolve();
        }
      };
      app.stdout!.on('data', collect);
      app.stderr!.on('data', collect);
      app.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
  });
  afterAll(() => {
    try {
      process.kill(-app.pid!, 'SIGKILL');
    } catch {
      // The group is gone: npm and the app both exited, as they should.
    }
  });

  const get = async (path: string, user?: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${base}${path}`, {
      headers: user ? { authorization: `Bearer ${user}` } : {},
    });
    return { status: response.status, body: await response.json() };
  };

  it('prints the URLs to try, with the user to send', () => {
    expect(output).toContain(`Example app on ${base}`);
    expect(output).toContain("-H 'Authorization: Bearer alice'");
    expect(output).toContain('embedded definitions (test/app/flags.json)');
  });

  it('answers every printed line with the status printed beside it', async () => {
    const tries = [
      ...output.matchAll(
        /^ {2}curl (\S+)(?: -H 'Authorization: Bearer ([^']+)')? +# (.+): (\d{3})$/gm,
      ),
    ];
    expect(tries.length).toBeGreaterThanOrEqual(13);
    const paths = tries.map(([, url]) => new URL(url!).pathname);
    expect(paths).toEqual(expect.arrayContaining(['/checkout/summary', '/flags/status']));
    const answers = [];
    for (const [line, url, user, , status] of tries) {
      const response = await get(new URL(url!).pathname, user);
      answers.push({ line: line.trim(), status: response.status, printed: Number(status) });
    }
    expect(answers.filter((a) => a.status !== a.printed)).toEqual([]);
  });

  it('answers each route the way the start banner and README say', async () => {
    expect(await get('/checkout', 'alice')).toEqual({
      status: 200,
      body: { checkout: 'new', enabled: true },
    });
    expect((await get('/checkout')).status).toBe(404);
    expect((await get('/checkout/help')).status).toBe(200);
    const pricing = await get('/pricing', 'alice');
    expect(pricing.status).toBe(200);
    expect(['test-a', 'test-b']).toContain(pricing.body.variant);
    expect(pricing.body.payload.discount).toBeGreaterThan(0);
    expect((await get('/pricing/beta', 'bob:beta')).status).toBe(200);
    expect((await get('/pricing/beta', 'bob:free')).status).toBe(404);
    expect((await get('/pricing/enterprise', 'carol:free:acme')).status).toBe(200);
    expect(await get('/pricing/banner', 'alice')).toEqual({
      status: 200,
      body: { banner: 'Try the new checkout' },
    });
    expect((await get('/flags/me', 'alice')).body.flags['new-checkout']).toBe(true);
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(health.body.info.posthog_flags).toMatchObject({
      status: 'up',
      role: 'offline',
      redis: 'none',
      flagCount: 5,
    });
  });

  // Runs last: it stops the app.
  it('stops, port freed, when npm start is sent SIGTERM (no node child left behind)', async () => {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
    const deadline = Date.now() + 10_000;
    let stillServing = true;
    while (stillServing && Date.now() < deadline) {
      stillServing = await fetch(`${base}/health`).then(
        () => true,
        () => false,
      );
      if (stillServing) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(stillServing).toBe(false);
  });
});
