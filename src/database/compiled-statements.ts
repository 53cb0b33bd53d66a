import { Logger } from '@nestjs/common';
import { hash } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { DataSource, ObjectLiteral, QueryBuilder } from 'typeorm';
import {
  type ConstraintFields,
  DatabaseUnavailableError,
  DataLayerError,
  translateDriverError,
} from './data-layer.errors';
import { budgetedPageText } from './page-budget';
import { poolOf, preparedStatementsOf } from './pg-pool';

/** An error the server sent with severity ERROR: the statement failed, the session is fine. */
const answeredByServer = (error: unknown): boolean =>
  (error as { severity?: unknown } | null)?.severity === 'ERROR';

/** Whether the connection reported an error of its own (see pg-client.ts). */
const faulted = (client: PoolClient): boolean => 'faulted' in client && client.faulted === true;

/**
 * SQLSTATEs of a named statement that the session does not hold as node-postgres believes:
 * 42P05 "prepared statement already exists" and 26000 "prepared statement does not exist". A
 * connection pooler in transaction mode that does not track prepared statements (PgBouncer
 * before 1.21, or later ones with `max_prepared_statements = 0`) runs each transaction on
 * whichever server connection is free, so a statement prepared on one is run on another.
 */
const LOST_PREPARED_STATEMENT = new Set(['42P05', '26000']);

/** Data sources whose statements are sent unnamed since one of them met such a pooler. */
const poolerLosesStatements = new WeakSet<DataSource>();

/** Stands for a named parameter while a statement is built; never sent to the database. */
const PLACEHOLDER = '\u0000parameter:';

/** Names a parameter while a statement is built: the value that the builder binds for it. */
export type ParameterName = (name: string) => string;

export type ShapeValue = string | boolean;

/** Every value each dimension of a statement's shape can take (which sort, whether resumed, …). */
export type ShapeSpace = Readonly<Record<string, readonly ShapeValue[]>>;

/** One point of a shape space: what the SQL text depends on, never the values bound to it. */
export type Shape<S extends ShapeSpace = ShapeSpace> = { readonly [K in keyof S]: S[K][number] };

/**
 * A statement, by name and shape. `build` sees the shape and nothing else of a call, and the
 * shape is the cache key, so two calls that differ in anything the SQL depends on can never
 * share a text. The shape space also lists every statement there can be: `docs/sql/` holds them
 * all, so a reviewer reads the SQL a change produces.
 */
export interface StatementDefinition<S extends ShapeSpace = ShapeSpace> {
  /** `<table>.<operation>`: its name in errors and in `docs/sql/<table>.sql`. */
  readonly name: string;
  readonly shapes: S;
  /** Names a parameter appended as `LIMIT $n` (TypeORM inlines limits as literals). */
  readonly limit?: string;
  /**
   * false: always sent unnamed, so PostgreSQL plans it with the values of each call. For a
   * statement whose best plan depends on which optional predicates are switched on: a generic
   * plan, made without the values, cannot know which index the call needs.
   */
  readonly prepared?: false;
  /**
   * With `limit`: names the parameter of a byte budget. The statement selects the columns of
   * `pageAccounting` and is wrapped by `budgetedPageText` after its LIMIT (database/page-budget.ts).
   */
  readonly budget?: string;
  /** A query builder, or SQL written out (see `sqlText`): only its text and parameters count. */
  build(dataSource: DataSource, shape: Shape<S>, parameter: ParameterName): StatementText;
}

/** What `build` returns: a TypeORM query builder is one. */
export type StatementText = Pick<QueryBuilder<ObjectLiteral>, 'getQueryAndParameters'>;

/** SQL written out, its `$1, $2, …` bound to `parameters` (the `ParameterName`s) in order. */
export const sqlText = (text: string, parameters: string[]): StatementText => ({
  getQueryAndParameters: () => [text, parameters],
});

const DEFINITIONS = new Map<string, StatementDefinition>();

/** Declares a statement; names are unique, so each has one entry in `docs/sql/`. */
export function defineStatement<const S extends ShapeSpace>(
  definition: StatementDefinition<S>,
): StatementDefinition<S> {
  if (DEFINITIONS.has(definition.name)) {
    throw new Error(`Two statements are named "${definition.name}"`);
  }
  DEFINITIONS.set(definition.name, definition);
  return definition;
}

/** Every statement declared so far (by the modules loaded), by name. */
export const declaredStatements = (): StatementDefinition[] =>
  [...DEFINITIONS.values()].sort((a, b) => a.name.localeCompare(b.name));

/** Every shape of a space, in the order its dimensions and values are declared. */
export function allShapes<S extends ShapeSpace>(space: S): Shape<S>[] {
  let shapes: Record<string, ShapeValue>[] = [{}];
  for (const [dimension, values] of Object.entries(space)) {
    shapes = shapes.flatMap((shape) => values.map((value) => ({ ...shape, [dimension]: value })));
  }
  return shapes as Shape<S>[];
}

export interface CompiledStatement {
  /** `<statement>:<hash of its text>`: the name it is prepared under on a connection. */
  name: string;
  text: string;
  /** Parameter names in the order of `$1, $2, …`. */
  order: string[];
  /** Whether it may be prepared by name (see `StatementDefinition.prepared`). */
  prepared: boolean;
}

/** The cache key of a shape; refuses a value its space does not list. */
function shapeKey(definition: StatementDefinition, shape: Shape): string {
  const values = Object.entries(definition.shapes).map(([dimension, allowed]) => {
    const value = shape[dimension];
    if (!allowed.includes(value)) {
      throw new Error(`Statement "${definition.name}" has no shape with ${dimension}=${value}`);
    }
    return value;
  });
  return `${definition.name}${JSON.stringify(values)}`;
}

/**
 * Builds a statement's SQL with placeholder values that reveal the order of its parameters.
 * A builder that binds a literal value instead of a named parameter is refused.
 */
export function compileStatement<S extends ShapeSpace>(
  dataSource: DataSource,
  definition: StatementDefinition<S>,
  shape: Shape<S>,
): CompiledStatement {
  const builder = definition.build(dataSource, shape, (name) => `${PLACEHOLDER}${name}`);
  const [text, placeholders] = builder.getQueryAndParameters();
  const order = placeholders.map((value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(PLACEHOLDER)) {
      throw new Error(`Statement "${definition.name}" binds a value that is not a named parameter`);
    }
    return value.slice(PLACEHOLDER.length);
  });
  let compiled = definition.limit
    ? { text: `${text} LIMIT $${order.length + 1}`, order: [...order, definition.limit] }
    : { text, order };
  if (definition.budget) {
    compiled = {
      text: budgetedPageText(compiled.text, `$${compiled.order.length + 1}`),
      order: [...compiled.order, definition.budget],
    };
  }
  // One text, one name (and the other way round), in every process: 63 bytes at most.
  const name = `${definition.name}:${hash('sha256', compiled.text, 'base64url').slice(0, 16)}`;
  return { name, ...compiled, prepared: definition.prepared !== false };
}

/** Runs declared statements: on the pool, or on the connection of a transaction. */
export interface StatementRunner {
  rows<Row, S extends ShapeSpace>(
    definition: StatementDefinition<S>,
    shape: Shape<S>,
    values: Readonly<Record<string, unknown>>,
  ): Promise<Row[]>;
}

/**
 * Statements built once by a TypeORM query builder and run many times. Building SQL through the
 * query builder costs more CPU than the database round trip it describes, and a statement's SQL
 * depends only on its shape, never on its values. So each shape is built the first time it is
 * needed; later calls only bind values and send the text over the DataSource's own pool, in one
 * round trip, logged like any TypeORM query. Driver errors leave as `DataLayerError`s, a named
 * constraint's violation blamed on the field the feature's map names.
 */
export class CompiledStatements implements StatementRunner {
  private readonly logger = new Logger('Database');
  private readonly compiled = new Map<string, CompiledStatement>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly constraintFields: ConstraintFields = {},
  ) {}

  /** Whether statements are prepared by name: configured, and no pooler has lost one. */
  private get prepared(): boolean {
    return preparedStatementsOf(this.dataSource) && !poolerLosesStatements.has(this.dataSource);
  }

  async rows<Row, S extends ShapeSpace>(
    definition: StatementDefinition<S>,
    shape: Shape<S>,
    values: Readonly<Record<string, unknown>>,
  ): Promise<Row[]> {
    // Compiled before a connection is taken: a shape outside its space is a programming error.
    const statement = this.statement(definition, shape);
    return this.unnamedIfLost(() =>
      this.withConnection((client) => this.send<Row>(client, statement, values)),
    );
  }

  /**
   * Runs `work` in one transaction, on one connection: its statements all apply or none does
   * (a key row and the row it guards, for example). BEGIN and COMMIT are a round trip each.
   */
  transaction<T>(work: (run: StatementRunner) => Promise<T>): Promise<T> {
    return this.unnamedIfLost(() =>
      this.withConnection(async (client) => {
        await this.query(client, 'BEGIN', []);
        try {
          const result = await work({
            rows: (definition, shape, values) =>
              this.send(client, this.statement(definition, shape), values),
          });
          await this.query(client, 'COMMIT', []);
          return result;
        } catch (error) {
          // A broken connection has no transaction left to roll back; it is discarded on release.
          await this.query(client, 'ROLLBACK', []).catch(() => undefined);
          throw error;
        }
      }),
    );
  }

  /**
   * Runs `attempt`; if a named statement was lost to a pooler that cannot keep them (see
   * LOST_PREPARED_STATEMENT), says so once, sends every statement unnamed from then on, and runs
   * `attempt` once more. The failed attempt changed nothing: its statement was refused before it
   * ran (Parse or Bind), and a transaction around it was rolled back.
   */
  private async unnamedIfLost<T>(attempt: () => Promise<T>): Promise<T> {
    const named = this.prepared;
    try {
      return await attempt();
    } catch (error) {
      const sqlState = error instanceof DataLayerError ? error.sqlState : undefined;
      if (!named || sqlState === undefined || !LOST_PREPARED_STATEMENT.has(sqlState)) throw error;
      if (!poolerLosesStatements.has(this.dataSource)) {
        poolerLosesStatements.add(this.dataSource);
        this.logger.warn(
          `A prepared statement was lost between server connections (SQLSTATE ${sqlState}): DATABASE_URL ` +
            'leads to a pooler in transaction mode that does not keep them (PgBouncer before 1.21). ' +
            'Statements are sent unnamed from now on; set DATABASE_PREPARED_STATEMENTS=false to start that way.',
        );
      }
      return attempt();
    }
  }

  private async send<Row>(
    client: PoolClient,
    statement: CompiledStatement,
    values: Readonly<Record<string, unknown>>,
  ): Promise<Row[]> {
    const parameters = statement.order.map((name) => values[name]);
    this.dataSource.logger.logQuery(statement.text, parameters);
    // Named, it is prepared the first time a connection runs it (node-postgres remembers which
    // it has), then only bound and executed: PostgreSQL parses and plans each statement once per
    // connection instead of on every request, which was half its CPU time for a "get one".
    const name = this.prepared && statement.prepared ? statement.name : undefined;
    return (await client.query({ name, text: statement.text, values: parameters })).rows as Row[];
  }

  private async query(client: PoolClient, text: string, parameters: unknown[]): Promise<unknown[]> {
    return (await client.query(text, parameters)).rows;
  }

  private statement<S extends ShapeSpace>(
    definition: StatementDefinition<S>,
    shape: Shape<S>,
  ): CompiledStatement {
    const key = shapeKey(definition, shape);
    let statement = this.compiled.get(key);
    if (!statement) {
      statement = compileStatement(this.dataSource, definition, shape);
      this.compiled.set(key, statement);
    }
    return statement;
  }

  /**
   * Not `pool.query()`: it discards the connection after any error, so every refused value and
   * every statement cut by statement_timeout would cost a new connection (and a login). Only a
   * connection that broke is discarded here; one the server answered is reused. The client's own
   * listener (pg-client.ts) records a connection error whenever it arrives, even between the
   * pool's hand-over and this call.
   */
  private async withConnection<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const pool = poolOf(this.dataSource);
    // No pool: the DataSource is not initialised yet, or already destroyed (shutting down).
    if (!pool) throw new DatabaseUnavailableError('The database is unavailable');
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translateDriverError(error);
    }
    let broken = false;
    try {
      return await work(client);
    } catch (error) {
      // Errors of our own (a version conflict inside a transaction) leave the connection sound.
      if (!(error instanceof DataLayerError) && !answeredByServer(error)) broken = true;
      throw translateDriverError(error, this.constraintFields);
    } finally {
      client.release(broken || faulted(client));
    }
  }
}
