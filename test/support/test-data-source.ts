import 'reflect-metadata';
import { Logger as TypeOrmLogger } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/database-options';
import { TasksDataSource } from '../../src/database/tasks-data-source';
import { ENTITIES } from '../../src/entities';

/** Records every statement TypeORM sends, for assertions about the SQL itself. */
export class StatementRecorder implements TypeOrmLogger {
  readonly statements: { sql: string; parameters: unknown[] }[] = [];
  logQuery(sql: string, parameters?: unknown[]): void {
    this.statements.push({ sql, parameters: parameters ?? [] });
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

export async function openDataSource(
  url: string,
  recorder?: StatementRecorder,
): Promise<TasksDataSource> {
  const dataSource = new TasksDataSource({
    ...buildDataSourceOptions(
      { url, poolMax: 4, connectTimeoutMs: 5000, statementTimeoutMs: 5000 },
      ENTITIES,
    ),
    ...(recorder ? { logging: ['query'], logger: recorder } : {}),
  });
  return dataSource.initialize();
}
