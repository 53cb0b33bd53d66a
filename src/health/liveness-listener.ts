import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { AppConfig } from '../config/app-config';

/**
 * How long the main event loop may go without turning before liveness answers 503: far longer
 * than any burst of work the service does (a thousand requests arriving at once took 1–4 s), far
 * shorter than a process that is truly stuck stays stuck.
 */
export const EVENT_LOOP_STALL_LIMIT_MS = 10_000;
/** How often the main event loop says it turns. */
const HEARTBEAT_INTERVAL_MS = 250;
/** Probes are a handful a minute; more open connections than this are refused by the kernel. */
const MAX_PROBE_CONNECTIONS = 64;

export interface LivenessListenerOptions {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  stallLimitMs?: number;
}

/**
 * What runs in the listener's thread: plain JavaScript (a worker does not load the TypeScript
 * of the process), reading the heartbeat the main thread writes into shared memory. The body
 * is Terminus's, as on the main listener's `/health/live`.
 */
const LISTENER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:http');
const heartbeat = new BigInt64Array(workerData.heartbeat);
const send = (response, status, body, head) => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : text);
};
const server = createServer({ requestTimeout: 5000, headersTimeout: 5000 }, (request, response) => {
  const head = request.method === 'HEAD';
  if ((request.method !== 'GET' && !head) || request.url.split('?')[0] !== '/health/live') {
    return send(response, 404, { status: 'error', error: 'only GET /health/live is served here' }, head);
  }
  const stalledMs = Date.now() - Number(Atomics.load(heartbeat, 0));
  if (stalledMs < workerData.stallLimitMs) {
    return send(response, 200, { status: 'ok', info: {}, error: {}, details: {} }, head);
  }
  const eventLoop = { status: 'down', stalledMs };
  send(response, 503, { status: 'error', info: {}, error: { eventLoop }, details: { eventLoop } }, head);
});
server.maxConnections = workerData.maxConnections;
server.keepAliveTimeout = 5000;
server.on('error', (error) => parentPort.postMessage({ error: error.message }));
server.listen(workerData.port, workerData.host, () =>
  parentPort.postMessage({ port: server.address().port }),
);
`;

/**
 * `/health/live` on a port and a thread of its own, so that it answers at once however busy the
 * service's event loop is: a thousand requests queued on a stuck database made the main
 * listener's probe take seconds, which would get a healthy pod restarted. Liveness still means
 * "the process works": the main thread writes a heartbeat into shared memory every 250 ms, and
 * the probe answers 503 once it is older than the stall limit.
 */
export class LivenessListener {
  private constructor(
    private readonly worker: Worker,
    private readonly heartbeat: NodeJS.Timeout,
    readonly url: string,
  ) {}

  static async start(options: LivenessListenerOptions): Promise<LivenessListener> {
    const shared = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));
    const beat = (): void => {
      Atomics.store(shared, 0, BigInt(Date.now()));
    };
    beat();
    const worker = new Worker(LISTENER_SOURCE, {
      eval: true,
      workerData: {
        heartbeat: shared.buffer,
        host: options.host,
        port: options.port,
        stallLimitMs: options.stallLimitMs ?? EVENT_LOOP_STALL_LIMIT_MS,
        maxConnections: MAX_PROBE_CONNECTIONS,
      },
    });
    const [message] = (await once(worker, 'message')) as [{ port?: number; error?: string }];
    if (message.port === undefined) {
      await worker.terminate();
      throw new Error(`The liveness listener could not listen: ${message.error}`);
    }
    // The heartbeat never keeps the process alive, nor does the thread.
    const heartbeat = setInterval(beat, HEARTBEAT_INTERVAL_MS).unref();
    worker.unref();
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    return new LivenessListener(worker, heartbeat, `http://${host}:${message.port}/health/live`);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.worker.terminate();
  }
}

/** Starts the liveness listener when LIVENESS_PORT is set, and stops it at shutdown. */
@Injectable()
export class LivenessPort implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Health');
  private listener: LivenessListener | null = null;

  constructor(private readonly config: AppConfig) {}

  /** Where `/health/live` is answered by its own thread; null without LIVENESS_PORT. */
  get url(): string | null {
    return this.listener?.url ?? null;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { livenessPort, host } = this.config.http;
    if (livenessPort === null) return;
    this.listener = await LivenessListener.start({ host, port: livenessPort });
    this.logger.log(
      { url: this.listener.url },
      `liveness probes answered on ${this.listener.url}, by a thread of its own`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.close();
  }
}
