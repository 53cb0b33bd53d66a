import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * Whether compiled statements are prepared by name on each connection (DATABASE_PREPARED_STATEMENTS,
 * carried in the DataSource's pool options by `buildDataSourceOptions`).
 */
export function preparedStatementsOf(dataSource: DataSource): boolean {
  const extra = (dataSource.options as { extra?: { preparedStatements?: unknown } }).extra;
  return extra?.preparedStatements !== false;
}

/**
 * The node-postgres pool behind a DataSource: the one place that reaches into TypeORM's driver.
 * Undefined before the DataSource is initialised and after it is destroyed.
 */
export function poolOf(dataSource: DataSource): Pool | undefined {
  const driver = dataSource.driver;
  if (!(driver instanceof PostgresDriver)) {
    throw new Error('The service runs on PostgreSQL only');
  }
  const master: unknown = driver.master;
  return master instanceof Pool ? master : undefined;
}
