import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy between the app and PostgreSQL, so a test can take the database away the way a
 * network does: `close()` refuses connections and resets the open ones; `blackHole()` keeps
 * accepting connections but lets nothing through (a partition); `freeze()` silently drops every
 * byte of the connections open at that moment while new ones pass (a NAT or firewall that forgot
 * its flows, a server host that vanished behind a new one); `open()` restores the path.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** Client sockets whose connection no longer delivers a byte, either way. */
  private readonly frozen = new WeakSet<Socket>();
  private readonly clients = new Set<Socket>();
  private forwarding = true;
  private server: Server | null = null;
  private port = 0;

  private constructor(private readonly databaseUrl: URL) {}

  /** Starts a proxy to the server of `databaseUrl`. */
  static async start(databaseUrl: string): Promise<TcpProxy> {
    const proxy = new TcpProxy(new URL(databaseUrl));
    await proxy.open();
    return proxy;
  }

  /** The database URL, through the proxy. */
  get url(): string {
    const url = new URL(this.databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async open(): Promise<void> {
    this.forwarding = true;
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((listening, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => listening());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((closed) => server.close(closed));
  }

  blackHole(): void {
    this.forwarding = false;
  }

  /** Connections open now never deliver another byte; later ones work. Returns how many froze. */
  freeze(): number {
    for (const client of this.clients) this.frozen.add(client);
    return this.clients.size;
  }

  private accept(client: Socket): void {
    this.track(client);
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    const upstream = this.track(new Socket());
    upstream.connect(Number(this.databaseUrl.port || 5432), this.databaseUrl.hostname);
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (this.forwarding && !this.frozen.has(client)) to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }
}
