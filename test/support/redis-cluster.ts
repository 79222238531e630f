import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, isPortFree } from './free-port.js';
import { RedisServer, sleep } from './redis-server.js';

const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const READY_TIMEOUT_MS = 15_000;

/** Three cluster masters (no replicas) on 127.0.0.1, all 16384 slots assigned. */
export class RedisClusterServers {
  private constructor(readonly servers: RedisServer[]) {}

  /**
   * Fresh nodes on each try: on a loaded machine `redis-cli --cluster create` has been seen to wait
   * past its timeout for the nodes to join (once in a CI run); new nodes on new ports then join.
   */
  static async start(attempts = 3): Promise<RedisClusterServers> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await RedisClusterServers.startOnce();
      } catch (error) {
        if (attempt >= attempts) throw error;
        process.stderr.write(
          `cluster start, try ${attempt} of ${attempts} failed: ${String(error)}\n`,
        );
      }
    }
  }

  private static async startOnce(): Promise<RedisClusterServers> {
    const servers: RedisServer[] = [];
    const cluster = new RedisClusterServers(servers);
    try {
      servers.push(...(await Promise.all([0, 1, 2].map(() => startNode()))));
      await createCluster(servers.map((s) => s.port));
      await waitForClusterOk(servers.map((s) => s.port));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get nodes(): Array<{ host: string; port: number }> {
    return this.servers.map(({ host, port }) => ({ host, port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

async function startNode(): Promise<RedisServer> {
  // Each node also listens on its cluster bus port, port + 10000: that one must be free too.
  for (let failures = 0; ;) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || !(await isPortFree(port + 10_000))) continue;
    try {
      return await RedisServer.start({
        port,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`],
      });
    } catch (error) {
      if (++failures >= 3) throw error;
    }
  }
}

function createCluster(ports: number[]): Promise<void> {
  const args = ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`)];
  args.push('--cluster-replicas', '0', '--cluster-yes');
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, args, { timeout: READY_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}${stderr}`));
    });
  });
}

async function waitForClusterOk(ports: number[]): Promise<void> {
  const clients = ports.map((port) => {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined); // surfaced by the command that fails
    return client;
  });
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let states: string[] = [];
    while (Date.now() < deadline) {
      states = await Promise.all(
        clients.map(async (c) => /cluster_state:(\w+)/.exec(await c.cluster('INFO'))?.[1] ?? '?'),
      );
      if (states.every((s) => s === 'ok')) return;
      await sleep(50);
    }
    throw new Error(
      `cluster not ok after ${READY_TIMEOUT_MS} ms: cluster_state ${states.join(', ')}`,
    );
  } finally {
    clients.forEach((c) => c.disconnect());
  }
}
