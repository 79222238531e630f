import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of the fake PostHog that can hold event uploads (`POST /batch/`), so a
 * process's shutdown (which flushes events after stopping the poller) lasts a known while.
 */
export class HoldingProxy {
  /** How long each `/batch` request is held before it is forwarded. */
  holdBatchMs = 0;
  readonly batches: Array<{ arrivedAt: number; forwardedAt?: number }> = [];

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  static async start(target: string): Promise<HoldingProxy> {
    const server = createServer();
    const proxy = new HoldingProxy(server, new URL(target));
    server.on('request', (req, res) => {
      const isBatch = req.method === 'POST' && (req.url ?? '').startsWith('/batch');
      const entry: { arrivedAt: number; forwardedAt?: number } | undefined = isBatch
        ? { arrivedAt: Date.now() }
        : undefined;
      if (entry) proxy.batches.push(entry);
      const forward = (): void => {
        if (entry) entry.forwardedAt = Date.now();
        const upstream = request(
          {
            host: proxy.target.hostname,
            port: proxy.target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer: IncomingMessage) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      };
      if (entry && proxy.holdBatchMs > 0) setTimeout(forward, proxy.holdBatchMs);
      else forward();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
