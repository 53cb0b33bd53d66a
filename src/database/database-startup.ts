import { Client, type ClientConfig } from 'pg';
import { DatabaseUnavailableError, DataLayerError } from './data-layer.errors';
import { buildDataSourceOptions, type ConnectionSettings } from './database-options';

export interface StartupCheckOptions {
  url: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** How long to keep retrying: a suspended Neon compute takes a few seconds to wake. */
  retryMs: number;
  onRetry: (attempt: number, reason: string) => void;
}

/**
 * The database is reachable but set up so that the service must not run against it; the message
 * is one line that says what to change.
 */
export class DatabaseMisconfiguredError extends DataLayerError {}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Why a connection failed: the error code, else the driver's message (never the URL). */
export const describeConnectionError = (error: unknown): string => {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code ?? message ?? 'unknown error';
};

/** What a pool connection is opened with (database-options.ts), for one connection of our own. */
export function poolClientConfig(settings: ConnectionSettings): ClientConfig {
  const { url, applicationName, extra } = buildDataSourceOptions(settings) as {
    url: string;
    applicationName: string;
    extra: ClientConfig;
  };
  return {
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: extra.connectionTimeoutMillis,
    statement_timeout: extra.statement_timeout,
    query_timeout: extra.query_timeout,
    keepAlive: extra.keepAlive,
  };
}

/** The role in the URL, quoted as an SQL identifier, for the remedies below. */
const roleOf = (url: string): string =>
  `"${decodeURIComponent(new URL(url).username || 'postgres').replace(/"/g, '""')}"`;

/** SQLSTATE invalid_catalog_name: the URL names a database the server does not have. */
const UNDEFINED_DATABASE = '3D000';

/** What to run when the database in `url` does not exist (no password in it). */
export function createDatabaseRemedy(url: string): string {
  const { hostname, port, pathname, username } = new URL(url);
  const database = decodeURIComponent(pathname.slice(1));
  const role = decodeURIComponent(username || 'postgres');
  const quoted = `"${database.replace(/"/g, '""')}"`;
  return (
    `database ${quoted} does not exist on ${hostname}:${port || 5432}: create it, for example with ` +
    `psql -h ${hostname} -p ${port || 5432} -U ${role} -d postgres -c 'CREATE DATABASE ${quoted}' ` +
    `(or createdb), then try again`
  );
}

/**
 * The one-line remedy for a server-side statement timeout that is not in effect. A role's setting
 * reaches new sessions only: PgBouncer keeps the server connections it already holds until
 * RECONNECT on its admin console (or a restart) replaces them.
 */
const setOnRole = (url: string, statementTimeoutMs: number): string =>
  `ALTER ROLE ${roleOf(url)} SET statement_timeout = '${statementTimeoutMs}ms'; then, behind ` +
  `PgBouncer, run RECONNECT on its admin console (psql -p <its port> pgbouncer) so that the server ` +
  `connections it already holds are replaced by ones with the setting`;

/**
 * Waits until the database answers on a connection opened exactly like the pool's (the same
 * start-up parameters, so a pooler that refuses one refuses it here, not after "reachable"),
 * retrying with a capped backoff until `retryMs` has passed. Returns the latency of the
 * successful round trip. Throws `DatabaseUnavailableError` when the database stays unreachable,
 * and `DatabaseMisconfiguredError` when statements would not be cut server-side before the
 * client gives up on them (specification §6): the client would answer 503 while the statement
 * runs on and, for a write, commits, and a client retrying on Retry-After would write twice.
 */
export async function waitForDatabase(options: StartupCheckOptions): Promise<number> {
  const deadline = Date.now() + options.retryMs;
  const config = poolClientConfig({ ...options, poolMax: 1 });
  // node-postgres gives up on a statement after query_timeout (database-options.ts).
  const clientGivesUpMs = options.statementTimeoutMs + options.connectTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    const client = new Client(config);
    client.on('error', () => undefined);
    let serverTimeoutMs: number;
    let latencyMs: number;
    try {
      await client.connect();
      const started = performance.now();
      const { rows } = await client.query<{ ms: number }>(
        `SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout'`,
      );
      latencyMs = performance.now() - started;
      serverTimeoutMs = rows[0].ms;
    } catch (error) {
      const reason = describeConnectionError(error);
      const refused = /unsupported startup parameter: (\w+)/.exec(String(error));
      if (refused) {
        throw new DatabaseMisconfiguredError(
          `DATABASE_URL leads to a connection pooler in front of PostgreSQL (such as PgBouncer) that refuses ` +
            `the ${refused[1]} start-up parameter: add ${refused[1]} to its ignore_startup_parameters and set the ` +
            `statement timeout where the pooler keeps it, on the role: ${setOnRole(options.url, options.statementTimeoutMs)}`,
          reason,
        );
      }
      // The server answered that the database is not there: waiting will not create it.
      if (reason === UNDEFINED_DATABASE)
        throw new DatabaseMisconfiguredError(createDatabaseRemedy(options.url));
      const delay = Math.min(250 * 2 ** (attempt - 1), 2000);
      if (Date.now() + delay >= deadline) {
        throw new DatabaseUnavailableError(
          `The database stayed unreachable for ${options.retryMs} ms (${attempt} attempts, last: ${reason})`,
        );
      }
      options.onRetry(attempt, reason);
      await sleep(delay);
      continue;
    } finally {
      await client.end().catch(() => undefined);
    }
    if (serverTimeoutMs === 0 || serverTimeoutMs >= clientGivesUpMs) {
      throw new DatabaseMisconfiguredError(
        `The database does not cut statements before the service gives up on them (statement_timeout is ` +
          `${serverTimeoutMs} ms on a connection opened with DATABASE_STATEMENT_TIMEOUT_MS=${options.statementTimeoutMs}: ` +
          `a connection pooler or proxy dropped the start-up parameter): set it on the role: ` +
          setOnRole(options.url, options.statementTimeoutMs),
      );
    }
    return latencyMs;
  }
}
