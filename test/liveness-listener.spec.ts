import { Worker } from 'node:worker_threads';
import { LivenessListener, LivenessPort } from '../src/health/liveness-listener';
import { startTestApp } from './support/test-app';

/**
 * A client on a thread of its own (the test's main thread is the app's, and is kept busy):
 * GETs `url` every 50 ms until it is answered `until`, then writes that status where the main
 * thread reads it.
 */
const PROBER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { get } = require('node:http');
const answered = new Int32Array(workerData.answered);
const probe = () =>
  get(workerData.url, { agent: false }, (response) => {
    response.resume();
    if (response.statusCode === workerData.until) Atomics.store(answered, 0, response.statusCode);
    else setTimeout(probe, 50);
  }).on('error', () => setTimeout(probe, 50));
probe();
`;

/**
 * Keeps this thread's event loop from turning (as a burst of work on a busy service does) until
 * a prober on another thread is answered `until` by `url`, or `capMs` passes; returns the status
 * the prober got while this thread was busy (0 for none).
 */
async function statusWhileBlocked(url: string, until: number, capMs = 20_000): Promise<number> {
  const answered = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const prober = new Worker(PROBER_SOURCE, {
    eval: true,
    workerData: { url, until, answered: answered.buffer },
  });
  try {
    const end = Date.now() + capMs;
    while (Atomics.load(answered, 0) === 0 && Date.now() < end) {
      // Busy: no timer, no I/O, no promise of this thread runs meanwhile.
    }
    return Atomics.load(answered, 0);
  } finally {
    await prober.terminate();
  }
}

describe('liveness on a port and thread of its own (LIVENESS_PORT)', () => {
  it('answers /health/live while the service event loop is blocked', async () => {
    const testApp = await startTestApp({ LIVENESS_PORT: '0' });
    try {
      const url = testApp.app.get(LivenessPort).url;
      expect(url).toMatch(/^http:\/\/[^/]+:\d+\/health\/live$/);
      expect(await statusWhileBlocked(url as string, 200)).toBe(200);
      const answer = await fetch(url as string);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
      // The main listener's /health/live is still served, for probes that use it.
      const main = await testApp.app.inject({ method: 'GET', url: '/health/live' });
      expect(main.statusCode).toBe(200);
    } finally {
      await testApp.close();
    }
  });

  it('has none unless configured', async () => {
    const testApp = await startTestApp();
    try {
      expect(testApp.app.get(LivenessPort).url).toBeNull();
    } finally {
      await testApp.close();
    }
  });

  it('answers 503 once the event loop has not turned for the stall limit, and 200 again after', async () => {
    const listener = await LivenessListener.start({
      host: '127.0.0.1',
      port: 0,
      stallLimitMs: 1000,
    });
    try {
      expect((await fetch(listener.url)).status).toBe(200);
      // Blocked for longer than the limit: the heartbeat goes stale, and the probe says so.
      expect(await statusWhileBlocked(listener.url, 503)).toBe(503);
      // The event loop turns again, and with it the heartbeat.
      const statuses: number[] = [];
      do {
        await new Promise((done) => setTimeout(done, 100));
        statuses.push((await fetch(listener.url)).status);
      } while (statuses.at(-1) !== 200 && statuses.length < 50);
      expect(statuses.at(-1)).toBe(200);
    } finally {
      await listener.close();
    }
  });

  it('serves GET and HEAD /health/live only', async () => {
    const listener = await LivenessListener.start({ host: '127.0.0.1', port: 0 });
    try {
      const base = listener.url.replace('/health/live', '');
      expect((await fetch(`${base}/health/ready`)).status).toBe(404);
      expect((await fetch(listener.url, { method: 'POST' })).status).toBe(404);
      const head = await fetch(listener.url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('cache-control')).toBe('no-store');
    } finally {
      await listener.close();
    }
  });
});
