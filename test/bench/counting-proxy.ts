import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that counts the bytes passing each way: put in front of Redis for some
 * processes only, it measures exactly their traffic (what `CLIENT LIST`'s `tot-net-in/out` give
 * per connection on Redis ≥ 7.4, which this machine's 7.0 lacks).
 */
export class CountingProxy {
  /** Bytes the clients sent to Redis. */
  toServer = 0;
  /** Bytes Redis sent back. */
  toClient = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    targetPort: number,
  ) {
    server.on('connection', (client) => this.pipe(client, connect(targetPort, '127.0.0.1')));
  }

  static async start(targetPort: number): Promise<CountingProxy> {
    const proxy = new CountingProxy(createServer(), targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.toServer = 0;
    this.toClient = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket, upstream: Socket): void {
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      this.toServer += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.toClient += chunk.length;
      client.write(chunk);
    });
  }
}
