import { Client, type ClientConfig } from 'pg';

/** The error node-postgres raises when `query_timeout` passes without an answer. */
const READ_TIMEOUT = 'Query read timeout';

/**
 * node-postgres's client, except that a query abandoned by the client-side `query_timeout` ends
 * its connection. node-postgres reports the timeout but keeps the connection as it is: its
 * statement still running, or its peer gone silent (a network partition, a NAT or firewall that
 * forgot the flow, a server host that vanished). Back in the pool, such a connection fails every
 * later query after another timeout, for as long as TCP takes to notice (up to hours), so the
 * service would not recover by itself. Ended, it is dropped by the pool, which opens a fresh one
 * (`end()` with a query still active destroys the socket at once).
 */
export class TimeoutEndingClient extends Client {
  /** Set once the connection has reported an error: it is never handed out again. */
  faulted = false;

  constructor(config?: string | ClientConfig) {
    super(config);
    // Never without an 'error' listener. The pool removes its own listener when it hands a
    // client out, and a FATAL that arrives before the borrower attaches one (a session
    // terminated by the server, 57P01) would otherwise be an unhandled 'error' event that
    // ends the process. The borrower reads `faulted` on release instead.
    this.on('error', () => {
      this.faulted = true;
    });
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const endIfTimedOut = (error: unknown): void => {
      if (error instanceof Error && error.message === READ_TIMEOUT) {
        this.end().catch(() => undefined);
      }
    };
    this.query = ((...args: unknown[]) => {
      const callback = args.at(-1);
      if (typeof callback === 'function') {
        args[args.length - 1] = (error: unknown, result: unknown) => {
          endIfTimedOut(error);
          callback(error, result);
        };
        return query(...args);
      }
      const result = query(...args);
      return result instanceof Promise
        ? result.catch((error: unknown) => {
            endIfTimedOut(error);
            throw error;
          })
        : result;
    }) as Client['query'];
  }
}
