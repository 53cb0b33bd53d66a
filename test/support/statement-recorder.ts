import { Client } from 'pg';
import type { Test } from 'supertest';
import { JOB_STATEMENT_PREFIX } from '../../src/database/periodic-job';

/**
 * Records the text of every statement node-postgres sends from this process (the app's pool
 * included) between `start()` and `stop()`, but the background jobs': how the suites count a
 * request's round trips.
 */
export class StatementRecorder {
  private readonly sent: string[] = [];
  private readonly originalQuery = Client.prototype.query;

  start(): void {
    const { sent, originalQuery } = this;
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      const text = typeof config === 'string' ? config : config.text;
      // The jobs' statements (the reminder claim every second, the purges, the events listener's
      // check) run while requests do, and are none of theirs.
      if (!text.startsWith(JOB_STATEMENT_PREFIX)) sent.push(text);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
  }

  stop(): void {
    Client.prototype.query = this.originalQuery;
  }

  /** The statements recorded since the last call, which are then forgotten. */
  take(): string[] {
    return this.sent.splice(0);
  }

  /** The statements that one request sent, once it answered `status`. */
  async sentBy(call: Test, status: number): Promise<string[]> {
    this.take();
    await call.expect(status);
    return this.take();
  }
}
