import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { PostHogFlagsModuleOptions } from '../../src/index.js';

const BUILD = join(process.cwd(), '.build/test/support');
const WORKER_ENTRY = join(BUILD, 'worker.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface WorkerStartOptions {
  adapter?: 'express' | 'fastify';
  /** How long to wait for the app to listen. Default 15 s. */
  timeoutMs?: number;
  /** Extra environment variables (e.g. NODE_EXTRA_CA_CERTS). */
  env?: Record<string, string>;
  /**
   * Another worker script: a file of test/support's build (e.g. `openfeature-worker.js`), or an
   * absolute path (the previous release's build, test/support/previous-release.ts). Default: the
   * example app.
   */
  entry?: string;
}

/** A real child process running the example app with the module (compiled, from `.build`). */
export class WorkerProcess {
  output = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  static async start(
    options: PostHogFlagsModuleOptions,
    { adapter = 'express', timeoutMs = 15_000, env = {}, entry }: WorkerStartOptions = {},
  ): Promise<WorkerProcess> {
    const script = !entry ? WORKER_ENTRY : isAbsolute(entry) ? entry : join(BUILD, entry);
    if (!existsSync(script)) {
      throw new Error(`${script} is missing: run \`npm run build:test\` first (npm test does)`);
    }
    const child = fork(script, [], {
      env: {
        ...process.env,
        ...env,
        WORKER_OPTIONS: JSON.stringify(options),
        WORKER_ADAPTER: adapter,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let output = '';
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`worker did not start within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message?.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message.port!);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code}) before listening:\n${output}`));
      });
    });
    const worker = new WorkerProcess(child, port);
    worker.output = output;
    child.stdout!.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** GET a path as a user (`Authorization: Bearer <user>`). */
  async get(path: string, user?: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.url}${path}`, {
      headers: user ? { authorization: `Bearer ${user}` } : {},
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // plain text body
    }
    return { status: response.status, body };
  }

  async status(): Promise<any> {
    return (await this.get('/flags/status')).body;
  }

  /** The child's own `process.cpuUsage()` (µs), asked over IPC. */
  cpuUsage(): Promise<NodeJS.CpuUsage> {
    return new Promise((resolve) => {
      const onMessage = (message: { type?: string; usage?: NodeJS.CpuUsage }) => {
        if (message?.type !== 'cpu') return;
        this.child.off('message', onMessage);
        resolve(message.usage!);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'cpu' });
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /**
   * Graceful stop: SIGTERM, on which Nest runs the shutdown hooks and re-raises the signal.
   * SIGKILL after `timeoutMs`. Resolves how the process ended.
   */
  async stop(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return { code: this.child.exitCode, signal: this.child.signalCode };
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
