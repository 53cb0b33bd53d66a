import { types } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { TimeoutEndingClient } from './pg-client';

export interface ConnectionSettings {
  url: string;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Prepare each compiled statement by name, once per connection (default true); false behind a
   * pooler that cannot keep them (PgBouncer before 1.21 in transaction mode). */
  preparedStatements?: boolean;
}

/** Entity classes, as `src/entities.ts` lists them. */
export type EntityList = NonNullable<DataSourceOptions['entities']>;

/**
 * The driver's type parsers, but a `date` stays the text PostgreSQL sends ("2025-01-31"): the
 * default parser turns it into a Date at local midnight, a day off east or west of UTC.
 */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.DATE && format !== 'binary'
      ? (value: string) => value
      : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

/** Name of the table in which TypeORM records the migrations it has run. */
export const MIGRATIONS_TABLE = 'migrations';

/**
 * The one builder of TypeORM options: the application (`DatabaseModule`) and the TypeORM CLI
 * (`ormconfig.ts`) both call it, so the two can never drift apart. `entities` is the list of
 * `src/entities.ts`, passed in so that this folder never imports a feature; running migrations
 * needs none.
 */
export function buildDataSourceOptions(
  settings: ConnectionSettings,
  entities: EntityList = [],
): DataSourceOptions {
  return {
    type: 'postgres',
    // The URL is handed to node-postgres as a connection string, so `sslmode` and the other
    // libpq-style parameters it carries (Neon URLs have `sslmode=require`) are honoured.
    url: settings.url,
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName: 'tasks-service',
    // gen_random_uuid() is built into PostgreSQL 13+: no `uuid-ossp`, which a managed database
    // role may not be allowed to create.
    installExtensions: false,
    extra: {
      max: settings.poolMax,
      types: typeParsers,
      // Bounds both a new connection and the wait for a free one from the pool.
      connectionTimeoutMillis: settings.connectTimeoutMs,
      // Server-side bound on every statement; the client-side bound below also covers a server
      // that stopped answering altogether (a network partition), so no request hangs.
      statement_timeout: settings.statementTimeoutMs,
      query_timeout: settings.statementTimeoutMs + settings.connectTimeoutMs,
      // A connection whose query hit that client-side bound is ended, never reused.
      Client: TimeoutEndingClient,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      // Read by the compiled statements (`preparedStatementsOf`); node-postgres ignores it.
      preparedStatements: settings.preparedStatements ?? true,
    },
  };
}
