import { JOB_STATEMENT_PREFIX } from '../src/database/periodic-job';
import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy between a client (the service or the floor) and PostgreSQL. It adds half of the
 * configured round-trip time to each direction, delaying every chunk while keeping their order,
 * which models a database across a network (Neon from a nearby region). It also counts the
 * round trips the client asks for: every `Sync` ('S', which ends an extended-protocol query)
 * and every simple `Query` ('Q') message of the PostgreSQL frontend protocol is one statement
 * the client then waits for. And it records the SQL text each statement ran: a `Bind` ('B')
 * runs the text its `Parse` ('P') gave the statement it names (on the same connection, perhaps
 * long before), a `Query` its own; so that the run can tell whether two servers send the same SQL.
 */
export interface LatencyProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Round-trip time to add, in milliseconds: half on the way there, half on the way back. */
  rttMs: number;
  listenPort?: number;
}

/** A SQL text the clients ran, white space collapsed, and how. */
export interface SentStatement {
  text: string;
  /** How many times it ran (each Bind of it, or each Query). */
  count: number;
  /** How many of those ran a named (prepared) statement. */
  named: number;
}

export interface LatencyProxy {
  port: number;
  /** Statements (round trips) clients sent since the last reset. */
  roundTrips(): number;
  /** The SQL texts clients ran since the last reset, most frequent first. */
  sentStatements(): SentStatement[];
  /** Resets both the count of round trips and the texts. */
  resetRoundTrips(): void;
  close(): Promise<void>;
}

// Untyped messages sent before the startup message is accepted.
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * The distinct SQL texts recorded between resets, and the statements one connection may name: a
 * server sends a few dozen; past the bound, new ones are not recorded (or not remembered).
 */
const MAX_TEXTS = 1_000;

const PARSE = 0x50; // P
const BIND = 0x42; // B
const QUERY = 0x51; // Q
const SYNC = 0x53; // S

/** One text of a statement however it was written: white space collapsed, no final `;`. */
export const normaliseSql = (text: string): string =>
  text
    .replace(/\s+/g, ' ')
    .replace(/\s*;\s*$/, '')
    .trim();

/** The NUL-terminated string at `offset` of `body`, and the offset after it. */
function cString(body: Buffer, offset: number): [string, number] {
  const end = body.indexOf(0, offset);
  return [body.toString('utf8', offset, end), end + 1];
}

/**
 * Walks one connection's frontend message stream: counts Sync and Query messages, and reports
 * the SQL text of each statement run. Named statements are remembered per connection, as
 * PostgreSQL does (the unnamed one under the empty name, replaced by each unnamed Parse).
 */
class FrontendMessageReader {
  private pending = Buffer.alloc(0);
  private startupDone = false;
  /** Bytes of the current message body still to skip. */
  private skip = 0;
  private readonly parsed = new Map<string, string>();

  /** The text of the statement the next Sync ends (its last Bind's). */
  private bound: string | undefined;

  constructor(
    private readonly onRoundTrip: (text: string | undefined) => void,
    private readonly onStatement: (text: string, named: boolean) => void,
  ) {}

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
      if (type === PARSE || type === BIND || type === QUERY) {
        // Read whole: wait for the rest of the message.
        if (data.length - offset < 1 + length) break;
        this.read(type, data.subarray(offset + 5, offset + 1 + length));
        offset += 1 + length;
        continue;
      }
      if (type === SYNC) {
        this.onRoundTrip(this.bound);
        this.bound = undefined;
      }
      this.skip = length + 1;
    }
    data = data.subarray(offset);
    if (data.length > 0) this.pending = Buffer.from(data);
  }

  private read(type: number, body: Buffer): void {
    if (type === QUERY) {
      const text = cString(body, 0)[0];
      this.onRoundTrip(text);
      this.onStatement(text, false);
      return;
    }
    if (type === PARSE) {
      const [name, next] = cString(body, 0);
      if (this.parsed.size < MAX_TEXTS || this.parsed.has(name)) {
        this.parsed.set(name, cString(body, next)[0]);
      }
      return;
    }
    const [, next] = cString(body, 0); // the portal
    const [name] = cString(body, next);
    const text = this.parsed.get(name);
    this.bound = text;
    if (text !== undefined) this.onStatement(text, name !== '');
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
  // By the text as sent (the same string for every Bind of a statement, so cheap to look up);
  // white space is collapsed when they are read.
  let sent = new Map<string, SentStatement>();
  // The service's jobs mark their statements (src/database/periodic-job.ts): not a request's.
  const ofJob = (text: string | undefined): boolean => !!text?.startsWith(JOB_STATEMENT_PREFIX);
  const record = (text: string, named: boolean): void => {
    if (ofJob(text)) return;
    let entry = sent.get(text);
    if (!entry) {
      if (sent.size >= MAX_TEXTS) return;
      entry = { text, count: 0, named: 0 };
      sent.set(text, entry);
    }
    entry.count += 1;
    if (named) entry.named += 1;
  };
  const sentStatements = (): SentStatement[] => {
    const merged = new Map<string, SentStatement>();
    for (const { text, count, named } of sent.values()) {
      const normalised = normaliseSql(text);
      const entry = merged.get(normalised) ?? { text: normalised, count: 0, named: 0 };
      entry.count += count;
      entry.named += named;
      merged.set(normalised, entry);
    }
    return [...merged.values()].sort((a, b) => b.count - a.count);
  };
  const sockets = new Set<Socket>();
  const half = options.rttMs / 2;
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = createConnection({ host: options.targetHost, port: options.targetPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const reader = new FrontendMessageReader((text) => {
      if (!ofJob(text)) statements++;
    }, record);
    client.on('data', (chunk: Buffer) => reader.push(chunk));
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
        sentStatements,
        resetRoundTrips: () => {
          statements = 0;
          sent = new Map();
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
