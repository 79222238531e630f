import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Compiled bench scripts live next to this file in `.build/test/bench`. */
export const BENCH_DIR = join(process.cwd(), '.build/test/bench');

const live = new Set<ChildProcess>();
// A bench that dies half-way must not leave a fleet behind (WorkerProcess does the same for its own).
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ChildOptions {
  env?: Record<string, string>;
  execArgv?: string[];
  /** Resolve once a stdout line matches (for scripts that print instead of messaging). */
  readyLine?: RegExp;
  timeoutMs?: number;
}

/** A forked Node script of the bench that reports `{ type: 'ready', port }` over IPC (or prints `readyLine`). */
export class BenchChild {
  output = '';
  readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    /** The IPC port, or the `readyLine` match's first group. */
    readonly ready: { port?: number; line?: string },
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  static async start(script: string, options: ChildOptions = {}): Promise<BenchChild> {
    const entry = script.startsWith('/') ? script : join(BENCH_DIR, script);
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build:test\``);
    const child = fork(entry, [], {
      env: { ...process.env, ...options.env },
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timeoutMs = options.timeoutMs ?? 15_000;
    const ready = await new Promise<{ port?: number; line?: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} did not start within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const done = (value: { port?: number; line?: string }): void => {
        clearTimeout(timer);
        resolve(value);
      };
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message?.type === 'ready') done({ port: message.port });
      });
      if (options.readyLine) {
        const pattern = options.readyLine;
        child.stdout!.on('data', () => {
          const match = pattern.exec(output);
          if (match) done({ line: match[1] ?? match[0] });
        });
      }
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited (${signal ?? code}) before it was ready:\n${output}`));
      });
    });
    const started = new BenchChild(child, ready);
    started.output = output;
    child.stdout!.on('data', (chunk: Buffer) => (started.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (started.output += chunk.toString()));
    return started;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.ready.port}`;
  }

  /** The next IPC message of the given type. */
  message<T>(type: string, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        cleanup();
        reject(new Error(`no '${type}' message: ${why}:\n${this.output}`));
      };
      const timer = setTimeout(() => fail(`none within ${timeoutMs} ms`), timeoutMs);
      const onExit = (): void => fail('the process exited');
      const onMessage = (message: { type?: string }): void => {
        if (message?.type !== type) return;
        cleanup();
        resolve(message as T);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  send(message: unknown): void {
    this.child.send(message as object);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
