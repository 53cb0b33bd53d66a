import { Client } from 'pg';
import { DatabaseUnavailableError } from './data-layer.errors';

export interface StartupCheckOptions {
  url: string;
  connectTimeoutMs: number;
  /** How long to keep retrying: a suspended Neon compute takes a few seconds to wake. */
  retryMs: number;
  onRetry: (attempt: number, reason: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Why a connection failed: the error code, else the driver's message (never the URL). */
export const describeConnectionError = (error: unknown): string => {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code ?? message ?? 'unknown error';
};

/**
 * Waits until the database answers `SELECT 1`, retrying with a capped backoff until `retryMs`
 * has passed. Returns the latency of the successful round trip; throws
 * `DatabaseUnavailableError` when the database stays unreachable.
 */
export async function waitForDatabase(options: StartupCheckOptions): Promise<number> {
  const deadline = Date.now() + options.retryMs;
  for (let attempt = 1; ; attempt++) {
    const client = new Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const started = performance.now();
      await client.query('SELECT 1');
      return performance.now() - started;
    } catch (error) {
      const reason = describeConnectionError(error);
      const delay = Math.min(250 * 2 ** (attempt - 1), 2000);
      if (Date.now() + delay >= deadline) {
        throw new DatabaseUnavailableError(
          `The database stayed unreachable for ${options.retryMs} ms (${attempt} attempts, last: ${reason})`,
        );
      }
      options.onRetry(attempt, reason);
      await sleep(delay);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
