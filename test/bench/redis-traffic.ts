import { Redis } from 'ioredis';

/** The counters of one `INFO stats commandstats` read. */
export interface RedisTraffic {
  netIn: number;
  netOut: number;
  /** Calls per command name (`hmget`, `evalsha`, `set`, …). */
  calls: Record<string, number>;
  /** Bytes the read itself adds to the next read's counters. */
  ownIn: number;
  ownOut: number;
}

// The RESP bytes of the command below, as the server reads them.
const INFO_ARGS = ['INFO', 'stats', 'commandstats'];
const INFO_REQUEST_BYTES = Buffer.byteLength(
  `*${INFO_ARGS.length}\r\n${INFO_ARGS.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`,
);

/**
 * Reads Redis's own byte and command counters. Redis 7.0's `CLIENT LIST` has no per-connection
 * `tot-net-in`/`tot-net-out` (those came with 7.4/8.0), so traffic is measured server-wide:
 * take deltas while only the processes of interest talk to Redis.
 */
export class RedisTrafficMeter {
  private constructor(private readonly client: Redis) {}

  static async open(url: string): Promise<RedisTrafficMeter> {
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    await client.ping(); // the handshake happens before any reading
    return new RedisTrafficMeter(client);
  }

  async read(): Promise<RedisTraffic> {
    const text = (await this.client.call('INFO', ...INFO_ARGS.slice(1))) as string;
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const calls: Record<string, number> = {};
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      calls[match[1]] = Number(match[2]);
    const bodyBytes = Buffer.byteLength(text);
    return {
      netIn: field('total_net_input_bytes'),
      netOut: field('total_net_output_bytes'),
      calls,
      ownIn: INFO_REQUEST_BYTES,
      // A bulk string reply: `$<len>\r\n<body>\r\n`.
      ownOut: bodyBytes + String(bodyBytes).length + 5,
    };
  }

  close(): void {
    this.client.disconnect();
  }
}

/** Bytes and calls between two reads, without the meter's own traffic. */
export function trafficDelta(before: RedisTraffic, after: RedisTraffic) {
  // `after`'s request is counted in `after`; `before`'s reply was written after `before` was taken.
  const netIn = after.netIn - before.netIn - after.ownIn;
  const netOut = after.netOut - before.netOut - before.ownOut;
  const calls = (name: string): number => (after.calls[name] ?? 0) - (before.calls[name] ?? 0);
  return { netIn, netOut, calls };
}
