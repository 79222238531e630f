import { createServer, type Server, type Socket } from 'node:net';

/** Accepts TCP connections and reads them, never answers: a black-holed Redis. */
export class BlackHoleServer {
  readonly port: number;
  private accepted = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    this.port = (server.address() as { port: number }).port;
    server.on('connection', (socket) => {
      this.accepted++;
      this.sockets.add(socket);
      socket.resume(); // drain whatever the client sends
      socket.on('error', () => undefined);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static start(): Promise<BlackHoleServer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(new BlackHoleServer(server)));
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.accepted;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
