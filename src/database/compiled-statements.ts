import type { Pool, PoolClient } from 'pg';
import type { DataSource, ObjectLiteral, QueryBuilder } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { translateDriverError } from './data-layer.errors';

/** An error the server sent with severity ERROR: the statement failed, the session is fine. */
const answeredByServer = (error: unknown): boolean =>
  (error as { severity?: unknown } | null)?.severity === 'ERROR';

/** Whether the connection reported an error of its own (see pg-client.ts). */
const faulted = (client: PoolClient): boolean => 'faulted' in client && client.faulted === true;

/** Stands for a named parameter while a statement is built; never sent to the database. */
const PLACEHOLDER = '\u0000parameter:';

interface CompiledStatement {
  text: string;
  /** Parameter names in the order of `$1, $2, …`. */
  order: string[];
}

/** Names a parameter while a statement is built: the value that the builder binds for it. */
export type ParameterName = (name: string) => string;

/**
 * Statements built once by a TypeORM query builder and run many times. Building SQL through the
 * query builder costs more CPU than the database round trip it describes, and a statement's SQL
 * depends only on its shape (which columns, which optional predicates), never on its values. So
 * each shape is built the first time it is needed, with placeholder values that reveal the order
 * of its parameters; later calls only bind values and send the text over the DataSource's own
 * pool, in one round trip, logged like any TypeORM query.
 */
export class CompiledStatements {
  private readonly statements = new Map<string, CompiledStatement>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs the statement of shape `key`, building it with `build` the first time. `limit`, when
   * given, names a parameter appended as `LIMIT $n` (TypeORM inlines limits as literals).
   */
  async rows<Row>(
    key: string,
    build: (parameter: ParameterName) => QueryBuilder<ObjectLiteral>,
    values: Record<string, unknown>,
    limit?: string,
  ): Promise<Row[]> {
    const statement = this.statements.get(key) ?? this.compile(key, build, limit);
    const parameters = statement.order.map((name) => values[name]);
    this.dataSource.logger.logQuery(statement.text, parameters);
    let client: PoolClient;
    try {
      client = await this.pool().connect();
    } catch (error) {
      throw translateDriverError(error);
    }
    // Not `pool.query()`: it discards the connection after any error, so every refused value
    // and every statement cut by statement_timeout would cost a new connection (and a login).
    // Only a connection that broke is discarded here; one the server answered is reused. The
    // client's own listener (pg-client.ts) records a connection error whenever it arrives, even
    // between the pool's hand-over and this call.
    let broken = false;
    try {
      return (await client.query(statement.text, parameters)).rows as Row[];
    } catch (error) {
      if (!answeredByServer(error)) broken = true;
      throw translateDriverError(error);
    } finally {
      client.release(broken || faulted(client));
    }
  }

  private compile(
    key: string,
    build: (parameter: ParameterName) => QueryBuilder<ObjectLiteral>,
    limit: string | undefined,
  ): CompiledStatement {
    const [text, placeholders] = build((name) => `${PLACEHOLDER}${name}`).getQueryAndParameters();
    const order = placeholders.map((value: unknown) => {
      if (typeof value !== 'string' || !value.startsWith(PLACEHOLDER)) {
        throw new Error(`statement "${key}" binds a value that is not a named parameter`);
      }
      return value.slice(PLACEHOLDER.length);
    });
    const statement = limit
      ? { text: `${text} LIMIT $${order.length + 1}`, order: [...order, limit] }
      : { text, order };
    this.statements.set(key, statement);
    return statement;
  }

  private pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }
}
