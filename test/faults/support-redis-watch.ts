/**
 * Watching what processes do to Redis: MONITOR (every command, with the lease token in the
 * arguments of every lease script, so a command can be traced to its process), and sampling a key.
 */
import { createHash } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import {
  ACQUIRE_OR_RENEW,
  FENCED_WRITE,
  RECORD_QUOTA_LIMITED,
  RELEASE,
  VERIFY,
} from '../../src/sources/shared/lease-scripts.js';
import { sleep } from './support-kit.js';

const sha = (script: string): string => createHash('sha1').update(script).digest('hex');

/** The lease scripts by SHA (what EVALSHA carries) and by text (EVAL after a NOSCRIPT). */
const SCRIPTS: Array<[string, string]> = [
  ['acquire', ACQUIRE_OR_RENEW],
  ['write', FENCED_WRITE],
  ['verify', VERIFY],
  ['quota', RECORD_QUOTA_LIMITED],
  ['release', RELEASE],
];

export interface MonitoredCommand {
  /** Redis server time, epoch ms. */
  at: number;
  /** `acquire`, `write`, `verify`, `quota`, `release` for the lease scripts, else the command name. */
  name: string;
  args: string[];
}

/** Names a command: a lease script by its SHA or text, else the lowercased command. */
export function commandName(args: string[]): string {
  const [command = '', first = ''] = args;
  const lower = command.toLowerCase();
  if (lower === 'evalsha' || lower === 'eval') {
    for (const [name, script] of SCRIPTS) {
      if (first === sha(script) || squash(first) === squash(script)) return name;
    }
  }
  return lower;
}

/** A script's text without whitespace or the escapes MONITOR prints for it. */
const squash = (text: string): string => text.replace(/\\[nrt"']|\\\\|\s/g, '');

/**
 * A MONITOR connection recording every command Redis runs. A plain socket: ioredis' monitor mode
 * can take the first MONITOR lines for replies under load ("Command queue state error").
 */
export class RedisMonitor {
  readonly commands: MonitoredCommand[] = [];

  private constructor(private readonly socket: Socket) {}

  static async start(url: string): Promise<RedisMonitor> {
    const { hostname, port } = new URL(url);
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.on('error', () => undefined);
    const watcher = new RedisMonitor(socket);
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        let newline;
        while ((newline = pending.indexOf('\r\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 2);
          if (line === '+OK') resolve();
          else if (line.startsWith('-')) reject(new Error(`MONITOR refused: ${line.slice(1)}`));
          else if (line.startsWith('+')) watcher.record(line.slice(1));
        }
      });
      socket.write('MONITOR\r\n');
    });
    return watcher;
  }

  /** `1796089981.921706 [0 127.0.0.1:57628] "hmget" "key" …`, arguments escaped as Redis prints them. */
  private record(line: string): void {
    const space = line.indexOf(' ');
    const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => unescapeMonitorArg(m[1]!));
    const at = Math.round(Number(line.slice(0, space)) * 1000);
    this.commands.push({ at, name: commandName(args), args });
  }

  /** Commands whose arguments carry this token (the lease scripts of one process). */
  byToken(token: string, since = 0): MonitoredCommand[] {
    return this.commands.filter((c) => c.at >= since && c.args.includes(token));
  }

  /** Commands whose arguments carry a token of this process id (`host:pid:random`). */
  byPid(pid: number, since = 0): MonitoredCommand[] {
    const marker = `:${pid}:`;
    return this.commands.filter((c) => c.at >= since && c.args.some((a) => a.includes(marker)));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Undoes Redis' `sdscatrepr` quoting (\n, \", \xHH, …). Bytes come back as latin1 characters. */
function unescapeMonitorArg(quoted: string): string {
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };
  return quoted.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
    e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (simple[e] ?? e),
  );
}

/** The `hash` of a stored definitions envelope, read from its start (no 10 MB parse). */
export function envelopeHash(raw: string | null): string | null {
  if (raw === null) return null;
  return /"hash":"([^"]+)"/.exec(raw.slice(0, 200))?.[1] ?? 'unparsable';
}

/** Samples a Redis value every few ms until stopped, keeping each change. */
export class KeySampler {
  readonly changes: Array<{ at: number; value: string | null }> = [];
  samples = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly client: Redis,
    read: (client: Redis) => Promise<string | null>,
    everyMs = 5,
  ) {
    this.loop = (async () => {
      while (this.running) {
        try {
          const value = await read(this.client);
          this.samples++;
          if (this.changes.at(-1)?.value !== value || this.changes.length === 0) {
            this.changes.push({ at: Date.now(), value });
          }
        } catch {
          // Redis away: nothing to sample
        }
        await sleep(everyMs);
      }
    })();
  }

  async stop(): Promise<Array<{ at: number; value: string | null }>> {
    this.running = false;
    await this.loop;
    return this.changes;
  }
}

/** A plain client for the test's own reads (errors swallowed: tests kill this Redis). */
export function testClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return client;
}

/** `INFO commandstats` calls of one command, and the server's network output so far. */
export async function redisStats(
  client: Redis,
): Promise<{ calls: Record<string, number>; netOutputBytes: number }> {
  const info = await client.info('all');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1]] = Number(match[2]);
  }
  const out = /^total_net_output_bytes:(\d+)/m.exec(info);
  return { calls, netOutputBytes: out ? Number(out[1]) : 0 };
}
