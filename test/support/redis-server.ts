import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 2_000;

export interface RedisServerOptions {
  port?: number;
  /** Appended to the command line. */
  args?: string[];
  /** Config file text: written to the temp dir, passed first (Sentinel needs a file to rewrite). */
  config?: string;
}

/** A private `redis-server` on 127.0.0.1 with its own temp dir; tests kill, restart, freeze it. */
export class RedisServer {
  readonly host = '127.0.0.1' as const;
  readonly port: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  private output = '';

  private constructor(
    port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.port = port;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    // A port picked by freePort() can be taken before redis binds it: pick another.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(options.port ?? (await freePort()), options);
      try {
        await server.launch();
        return server;
      } catch (error) {
        if (options.port !== undefined || attempt >= 3 || !(error instanceof PortInUseError)) {
          throw error;
        }
      }
    }
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM, SIGKILL after 2 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void> {
    return this.terminate('SIGTERM');
  }

  /** SIGKILL now: a crash. */
  kill(): Promise<void> {
    return this.terminate('SIGKILL');
  }

  /** Starts again on the same port with an empty dataset (stops first if still running). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** SIGSTOP: the socket stays open but nothing answers (a hung Redis). */
  pause(): void {
    this.running().kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.running().kill('SIGCONT');
    this.paused = false;
  }

  private running(): ChildProcess {
    if (!this.child) throw new Error(`redis-server on port ${this.port} is not running`);
    return this.child;
  }

  private async terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return this.exited;
    child.ref(); // keep a plain node process alive until the exit is seen
    child.kill(signal);
    // A stopped process only acts on SIGTERM once continued.
    if (this.paused) child.kill('SIGCONT');
    this.paused = false;
    const timer =
      signal === 'SIGTERM' ? setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS) : undefined;
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private async launch(): Promise<void> {
    const dir = mkdtempSync(join(tempRoot(), `${this.port}-`));
    const configFile = join(dir, 'redis.conf');
    if (this.options.config !== undefined) writeFileSync(configFile, this.options.config);
    const args = ['--port', String(this.port), '--bind', this.host, '--dir', dir];
    args.push('--save', '', '--appendonly', 'no', ...(this.options.args ?? []));
    if (this.options.config !== undefined) args.unshift(configFile); // a config file goes first
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.paused = false;
    this.output = '';
    const capture = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    let spawnError: Error | undefined;
    child.once('error', (error) => (spawnError = error));
    this.exited = new Promise((resolve) => {
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        untrack(child);
        if (this.child === child) this.child = undefined;
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      // 'close' waits for stdio too (so the output tail is complete), but a forked child (a
      // replication RDB) can hold stdout open past the server's death: don't wait long for it.
      child.once('close', done);
      child.once('error', done); // a failed spawn
      child.once('exit', () => setTimeout(done, 200).unref());
    });
    track(child);

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child !== child) {
        const reason = spawnError ? String(spawnError) : `exited (${exitStatus(child)})`;
        const message = `redis-server on port ${this.port} ${reason}${this.tail()}`;
        throw /already in use/i.test(this.output)
          ? new PortInUseError(message)
          : new Error(message);
      }
      if (await ping(this.port)) return;
      await sleep(20);
    }
    const tail = this.tail();
    await this.kill();
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms${tail}`,
    );
  }

  private tail(): string {
    return this.output ? `; its output ends:\n${this.output.trim()}` : '';
  }
}

class PortInUseError extends Error {}

/** REDIS_URL when set (a shared server: no kill/restart), else a private RedisServer. */
export async function sharedTestRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const url = process.env.REDIS_URL;
  if (url) return { url, stop: () => Promise.resolve() };
  const server = await RedisServer.start();
  return { url: server.url, stop: () => server.stop() };
}

/** Resolves whether a Redis (or Sentinel) on `port` answers PING with PONG. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exitStatus(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

// --- Never leave servers behind ---------------------------------------------------------------
// Servers are unref'd (a forgotten stop() must not hang jest) and killed when this process ends:
// by an 'exit' handler, and by a watchdog shell that kills them when our end of its stdin pipe
// closes. The watchdog is what works under jest: jest hands test code a copy of `process` whose
// 'exit' event never fires, and it also covers a SIGKILLed test process.

const live = new Set<ChildProcess>();
let root: string | undefined;
let watchdog: ChildProcess | undefined;

const WATCHDOG_SCRIPT = `
trap '' INT HUP TERM
pids=' '
while IFS= read -r line; do
  case $line in
    +*) pids="$pids\${line#+} " ;;
    -*) p=\${line#-}; case $pids in *" $p "*) pids="\${pids%% $p *} \${pids#* $p }" ;; esac ;;
  esac
done
[ "$pids" = ' ' ] || kill -9 $pids 2>/dev/null
rm -rf "$1"
`;

function tempRoot(): string {
  if (root) return root;
  root = mkdtempSync(join(tmpdir(), 'nestjs-posthog-flags-redis-'));
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    if (root) rmSync(root, { recursive: true, force: true });
  });
  watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'redis-watchdog', root], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => (watchdog = undefined));
  watchdog.stdin?.on('error', () => (watchdog = undefined));
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  return root;
}

function track(child: ChildProcess): void {
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();
  if (child.pid === undefined) return;
  live.add(child);
  watchdog?.stdin?.write(`+${child.pid}\n`);
}

function untrack(child: ChildProcess): void {
  if (!live.delete(child)) return;
  watchdog?.stdin?.write(`-${child.pid}\n`);
}
