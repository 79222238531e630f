import { Redis } from 'ioredis';
import { RedisServer, sleep } from './redis-server.js';

const READY_TIMEOUT_MS = 10_000;
const FAILOVER_TIMEOUT_MS = 15_000;

/**
 * A master, one replica and Sentinel(s) monitoring them as 'mymaster'. `master` and `replica` are
 * the nodes as started; failover() swaps their roles (currentMasterPort() tells which is which).
 */
export class RedisSentinelServers {
  readonly masterName = 'mymaster' as const;

  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    private readonly sentinelServers: RedisServer[],
  ) {}

  static async start(options: { sentinels?: number } = {}): Promise<RedisSentinelServers> {
    const count = options.sentinels ?? 1;
    const started: RedisServer[] = [];
    try {
      // Both nodes (either may be promoted): a full sync otherwise waits 5 s for more replicas.
      const args = ['--repl-diskless-sync-delay', '0'];
      const master = await RedisServer.start({ args });
      started.push(master);
      const replica = await RedisServer.start({
        args: [...args, '--replicaof', '127.0.0.1', String(master.port)],
      });
      started.push(replica);
      const sentinels = await Promise.all(
        Array.from({ length: count }, () =>
          RedisServer.start({ config: sentinelConfig(master.port), args: ['--sentinel'] }).then(
            (s) => (started.push(s), s),
          ),
        ),
      );
      const servers = new RedisSentinelServers(master, replica, sentinels);
      await waitUntilStreaming(master.port, Date.now() + READY_TIMEOUT_MS);
      await servers.waitUntilMonitoring();
      return servers;
    } catch (error) {
      await Promise.all(started.map((s) => s.stop()));
      throw error;
    }
  }

  get sentinels(): Array<{ host: string; port: number }> {
    return this.sentinelServers.map(({ host, port }) => ({ host, port }));
  }

  /** The master's port according to the first Sentinel (SENTINEL get-master-addr-by-name). */
  currentMasterPort(): Promise<number> {
    return withClient(this.sentinelServers[0].port, (c) => masterPortOf(c, this.masterName));
  }

  /**
   * Promotes the other node via SENTINEL FAILOVER and resolves once every Sentinel reports it, the
   * failover is over and the node answers ROLE as master. Then it does at once what Sentinel itself
   * does only ~8 s later (+convert-to-slave): turns the old master into a replica and drops its
   * clients, so they reconnect through Sentinel as after a real failover.
   */
  async failover(): Promise<void> {
    const deadline = Date.now() + FAILOVER_TIMEOUT_MS;
    const from = await this.currentMasterPort();
    const [to, old] =
      from === this.master.port ? [this.replica, this.master] : [this.master, this.replica];
    await withClient(this.sentinelServers[0].port, async (sentinel) => {
      // NOGOODSLAVE: Sentinel has not yet seen the replica as healthy; INPROG: a previous failover
      // is still winding down. Both pass shortly.
      for (;;) {
        try {
          await sentinel.call('SENTINEL', 'FAILOVER', this.masterName);
          return;
        } catch (error) {
          if (!/NOGOODSLAVE|INPROG/.test(String(error)) || Date.now() > deadline) throw error;
          await sleep(100);
        }
      }
    });
    let state = '';
    const done = async (): Promise<boolean> => {
      for (const { port } of this.sentinelServers) {
        const { master, flags } = await withClient(port, async (c) => ({
          master: await masterPortOf(c, this.masterName),
          flags: parseTable([await c.call('SENTINEL', 'MASTER', this.masterName)])[0].flags,
        }));
        state = `Sentinel ${port} reports master ${master} (${flags})`;
        if (master !== to.port || flags !== 'master') return false;
      }
      const role = await withClient(to.port, async (c) => ((await c.call('ROLE')) as [string])[0]);
      state = `port ${to.port} has role ${role}`;
      return role === 'master';
    };
    while (!(await done())) {
      if (Date.now() > deadline) {
        throw new Error(
          `failover ${from} -> ${to.port} not done after ${FAILOVER_TIMEOUT_MS} ms: ${state}`,
        );
      }
      await sleep(50);
    }
    if (old.pid === undefined) return; // a killed master: Sentinel converts it once restarted
    await withClient(old.port, (c) =>
      c
        .multi()
        .call('REPLICAOF', '127.0.0.1', String(to.port))
        .call('CLIENT', 'KILL', 'TYPE', 'normal')
        .call('CLIENT', 'KILL', 'TYPE', 'pubsub')
        .exec(),
    );
    // Leave a steady state: a failover right after this one must not lose writes.
    await waitUntilStreaming(to.port, deadline);
  }

  async stop(): Promise<void> {
    await Promise.all([this.master, this.replica, ...this.sentinelServers].map((s) => s.stop()));
  }

  /** Every Sentinel knows the master, a healthy replica, and (with several) each other. */
  private async waitUntilMonitoring(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const others = this.sentinelServers.length - 1;
    let state = '';
    for (const { port } of this.sentinelServers) {
      await withClient(port, async (c) => {
        while (Date.now() < deadline) {
          const master = await masterPortOf(c, this.masterName);
          const replicas = parseTable(await c.call('SENTINEL', 'REPLICAS', this.masterName));
          const replica = replicas.find((r) => r.port === String(this.replica.port));
          const info = parseTable([await c.call('SENTINEL', 'MASTER', this.masterName)])[0];
          const healthy = replica && !/s_down|disconnected/.test(replica.flags);
          if (
            master === this.master.port &&
            healthy &&
            replica['master-link-status'] === 'ok' &&
            Number(info['num-other-sentinels']) >= others
          ) {
            return;
          }
          state = `master ${master}, replica ${JSON.stringify(replica)}, info ${JSON.stringify(info)}`;
          await sleep(50);
        }
        throw new Error(`Sentinel ${port} not ready after ${READY_TIMEOUT_MS} ms: ${state}`);
      });
    }
  }
}

/**
 * Until the master streams writes to its replica. After a full sync a Redis 7.0 master holds the
 * stream back until the replica's first REPLCONF ACK (sent once a second), so a write made in that
 * window followed by a failover would be lost. WAIT returns once the replica has acked a write
 * (a PUBLISH: replicated, yet it leaves no key behind).
 */
async function waitUntilStreaming(masterPort: number, deadline: number): Promise<void> {
  await withClient(masterPort, async (master) => {
    await master.publish('__redis_launchers__', 'sync');
    const acked = await master.call('WAIT', '1', String(Math.max(1, deadline - Date.now())));
    if (Number(acked) < 1) throw new Error(`the replica of ${masterPort} did not catch up in time`);
  });
}

function sentinelConfig(masterPort: number): string {
  return [
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
    'sentinel down-after-milliseconds mymaster 1000',
    'sentinel failover-timeout mymaster 5000',
    '',
  ].join('\n');
}

async function withClient<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // surfaced by the command that fails
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function masterPortOf(sentinel: Redis, name: string): Promise<number> {
  const addr = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)) as
    string[] | null;
  return Number(addr?.[1]);
}

/** SENTINEL REPLICAS / MASTER answer flat [key, value, ...] lists. */
function parseTable(rows: unknown): Array<Record<string, string>> {
  return (rows as string[][]).map((row) => {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < row.length; i += 2) record[row[i]] = row[i + 1];
    return record;
  });
}
