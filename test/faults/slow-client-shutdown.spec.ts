import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../src/app.factory';
import { startTestApp } from '../support/test-app';
import { listeningUrl, spawnServingApp } from '../support/app-process';
import { createTestDatabase } from '../support/test-database';
import { authHeader, reportFigures, round, sleep } from './fault-support';
import { loadSlack } from '../support/machine-load';

const GRACE_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 1000;
/** After the listener closes, requests get as long as their database work may take. */
const DRAIN_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS;

/**
 * A client that never finishes its request: it sends the headers of a POST announcing a body,
 * or only part of the headers, then one byte every `everyMs`.
 */
function dribble(url: string, head: string, everyMs: number): { socket: Socket; stop(): void } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  socket.write(head);
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write('a');
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
  return { socket, stop: () => clearInterval(timer) };
}

// specification §6: SIGTERM ends the process within the grace period plus a bounded drain, with
// exit code 0, even when clients keep connections busy by sending their requests a byte at a time
// (a stalled mobile client, or a slowloris). Otherwise every rollout would end in a SIGKILL.
describe('shutdown with clients that dribble their requests', () => {
  it('exits 0 within grace + drain, cutting the connections left at the drain deadline', async () => {
    const database = await createTestDatabase();
    const app = spawnServingApp(database.url, {
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      LOG_LEVEL: 'info',
    });
    const clients: { socket: Socket; stop(): void }[] = [];
    try {
      const url = await listeningUrl(app);
      const { authorization } = await authHeader('slow-user');
      const { host } = new URL(url);
      for (let i = 0; i < 5; i++) {
        clients.push(
          dribble(
            url,
            `POST /api/slow-user/tasks HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${authorization}\r\n` +
              `Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"title":"`,
            200,
          ),
        );
      }
      // And a slowloris: headers that never end.
      for (let i = 0; i < 2; i++) {
        clients.push(dribble(url, `GET /health/live HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `, 200));
      }
      await sleep(500);
      // The service still answers others meanwhile.
      expect((await fetch(`${url}/health/live`)).status).toBe(200);

      const sigtermAt = performance.now();
      app.child.kill('SIGTERM');
      let deadline: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        app.exit,
        new Promise<'still running'>((late) => {
          deadline = setTimeout(() => late('still running'), GRACE_MS + DRAIN_MS + 60_000);
        }),
      ]);
      clearTimeout(deadline);
      expect(outcome).not.toBe('still running');
      const { code, atMs } = outcome as Awaited<typeof app.exit>;
      const exitAfterMs = atMs + app.startedAt - sigtermAt;
      expect(code).toBe(0);
      expect(exitAfterMs).toBeGreaterThanOrEqual(GRACE_MS + DRAIN_MS - 100);
      // Grace, drain, then closing the pool: generous on a loaded machine, far below a SIGKILL.
      expect(exitAfterMs).toBeLessThan(GRACE_MS + DRAIN_MS + loadSlack(4000));
      expect(app.lines.some((line) => /drain deadline passed/.test(line))).toBe(true);
      expect(clients.every(({ socket }) => socket.destroyed || socket.readableEnded)).toBe(true);

      reportFigures('slow-client-shutdown', {
        graceMs: GRACE_MS,
        drainMs: DRAIN_MS,
        slowClients: clients.length,
        exitCode: code,
        exitAfterMs: round(exitAfterMs),
      });
    } finally {
      clients.forEach(({ socket, stop }) => {
        stop();
        socket.destroy();
      });
      app.child.kill('SIGKILL');
      await database.drop();
    }
  }, 120_000);
});

describe('the HTTP server while serving', () => {
  it('bounds the time a client may take to send headers and a whole request', async () => {
    const testApp = await startTestApp();
    try {
      const server = testApp.app.getHttpServer() as Server;
      expect(server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      expect(server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
      expect(HEADERS_TIMEOUT_MS).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS);
    } finally {
      await testApp.close();
    }
  });
});
