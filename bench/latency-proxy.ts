import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy between a client (the service or the floor) and PostgreSQL. It adds half of the
 * configured round-trip time to each direction, delaying every chunk while keeping their order,
 * which models a database across a network (Neon from a nearby region). It also counts the
 * round trips the client asks for: every `Sync` ('S', which ends an extended-protocol query)
 * and every simple `Query` ('Q') message of the PostgreSQL frontend protocol is one statement
 * the client then waits for.
 */
export interface LatencyProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Round-trip time to add, in milliseconds: half on the way there, half on the way back. */
  rttMs: number;
  listenPort?: number;
}

export interface LatencyProxy {
  port: number;
  /** Statements (round trips) clients sent since the last reset. */
  roundTrips(): number;
  resetRoundTrips(): void;
  close(): Promise<void>;
}

// Untyped messages sent before the startup message is accepted.
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Walks the frontend message stream and counts Sync and Query messages. */
class FrontendMessageCounter {
  private pending = Buffer.alloc(0);
  private startupDone = false;
  /** Bytes of the current message body still to skip. */
  private skip = 0;

  constructor(private readonly onStatement: () => void) {}

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let offset = 0;
    for (;;) {
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, data.length - offset);
        this.skip -= skipped;
        offset += skipped;
        if (this.skip > 0) return;
      }
      if (!this.startupDone) {
        if (data.length - offset < 8) break;
        const length = data.readInt32BE(offset);
        const code = data.readInt32BE(offset + 4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.startupDone = true;
        this.skip = length;
        continue;
      }
      if (data.length - offset < 5) break;
      const type = data[offset];
      const length = data.readInt32BE(offset + 1);
      if (type === 0x53 /* S */ || type === 0x51 /* Q */) this.onStatement();
      this.skip = length + 1;
    }
    data = data.subarray(offset);
    if (data.length > 0) this.pending = Buffer.from(data);
  }
}

/**
 * Writes chunks to `destination` `delayMs` after they arrived, in arrival order. A timer may fire
 * early (Node measures it from the loop's cached clock), so each delivery checks the clock and
 * waits out a remainder under a millisecond with setImmediate: never early, rarely later than
 * the timer's own slack. The effective round trip is measured and reported by bench/run.ts.
 */
function delayedPipe(source: Socket, destination: Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let scheduled = false;
  let ended = false;
  const pump = (): void => {
    scheduled = false;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer };
      if (!destination.destroyed) destination.write(chunk);
    }
    if (queue.length > 0) schedule(queue[0].due - now);
    else if (ended) destination.end();
  };
  const schedule = (wait: number): void => {
    scheduled = true;
    if (wait >= 1) setTimeout(pump, wait);
    else setImmediate(pump);
  };
  source.on('data', (chunk: Buffer) => {
    if (delayMs <= 0) {
      destination.write(chunk);
      return;
    }
    queue.push({ due: performance.now() + delayMs, chunk });
    if (!scheduled) schedule(delayMs);
  });
  source.on('end', () => {
    ended = true;
    if (queue.length === 0) destination.end();
  });
}

export function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  let statements = 0;
  const sockets = new Set<Socket>();
  const half = options.rttMs / 2;
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = createConnection({ host: options.targetHost, port: options.targetPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const counter = new FrontendMessageCounter(() => statements++);
    client.on('data', (chunk: Buffer) => counter.push(chunk));
    delayedPipe(client, upstream, half);
    delayedPipe(upstream, client, half);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => setTimeout(close, half + 1));
    upstream.on('close', () => setTimeout(close, half + 1));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        roundTrips: () => statements,
        resetRoundTrips: () => {
          statements = 0;
        },
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// Standalone: `ts-node bench/latency-proxy.ts <listenPort> <targetHost:port> <rttMs>`.
if (require.main === module) {
  const [listen, target, rtt] = process.argv.slice(2);
  const [host, port] = (target ?? '').split(':');
  if (!listen || !host || !port || rtt === undefined) {
    process.stderr.write('usage: latency-proxy <listenPort> <targetHost:port> <rttMs>\n');
    process.exit(2);
  }
  void startLatencyProxy({
    listenPort: Number(listen),
    targetHost: host,
    targetPort: Number(port),
    rttMs: Number(rtt),
  }).then((proxy) => {
    process.stdout.write(`latency proxy on 127.0.0.1:${proxy.port} → ${target}, +${rtt} ms RTT\n`);
  });
}
