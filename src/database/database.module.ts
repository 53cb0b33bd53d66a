import {
  DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions, type EntityList } from './database-options';
import { waitForDatabase } from './database-startup';
import { EMBEDDED_DATABASE, EmbeddedPostgresServer, embeddedDataDir } from './embedded-postgres';
import { TasksDataSource } from './tasks-data-source';

/** Where the application's database is: the configured URL, or an embedded server it started. */
export class DatabaseEndpoint implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    readonly url: string,
    private readonly embedded: EmbeddedPostgresServer | null,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Closes the pool before stopping an embedded server, so no connection sees it vanish. */
  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    const dataSource = this.moduleRef.get(DataSource, { strict: false });
    if (dataSource.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
    this.logger.log('embedded PostgreSQL stopped');
  }
}

async function resolveEndpoint(config: AppConfig, moduleRef: ModuleRef): Promise<DatabaseEndpoint> {
  if (config.database.url) return new DatabaseEndpoint(config.database.url, null, moduleRef);
  const logger = new Logger('EmbeddedPostgres');
  logger.warn('DATABASE_URL is not set: starting an embedded PostgreSQL under .data/');
  const dataDir = embeddedDataDir(config.nodeEnv);
  const embedded = await EmbeddedPostgresServer.start({
    dataDir,
    database: EMBEDDED_DATABASE,
    log: (message) => logger.debug(message),
  });
  // The port is new on every start: say how to reach the database (without the password).
  logger.log(
    `embedded PostgreSQL listening on ${new URL(embedded.url).host}, data in ${dataDir}; ` +
      '`npm run db:url` prints its URL',
  );
  return new DatabaseEndpoint(embedded.url, embedded, moduleRef);
}

/**
 * Applies pending migrations at start-up when DB_MIGRATIONS_RUN is on (under the advisory lock).
 * They run over DATABASE_DIRECT_URL when it differs from DATABASE_URL: a session advisory lock
 * and DDL need a direct connection, not a transaction-mode pooler such as Neon's `-pooler` host.
 */
@Injectable()
export class StartupMigrations implements OnModuleInit {
  private readonly logger = new Logger('Migrations');

  constructor(
    private readonly config: AppConfig,
    @Inject(DataSource) private readonly dataSource: TasksDataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    const { runMigrations, url, directUrl } = this.config.database;
    if (!runMigrations) return;
    const direct =
      directUrl && directUrl !== url
        ? await new TasksDataSource(
            buildDataSourceOptions({ ...this.config.database, url: directUrl, poolMax: 1 }),
          ).initialize()
        : null;
    try {
      const applied = await (direct ?? this.dataSource).runMigrations();
      const names = applied.map((migration) => migration.name);
      this.logger.log(`migrations up to date (applied now: ${names.join(', ') || 'none'})`);
    } finally {
      await direct?.destroy();
    }
  }
}

/** The database of the application, with the entities of `src/entities.ts`. */
@Module({})
export class DatabaseModule {
  static forRoot(entities: EntityList): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [typeOrmRoot(entities)],
      providers: [StartupMigrations],
    };
  }
}

const typeOrmRoot = (entities: EntityList): DynamicModule =>
  TypeOrmModule.forRootAsync({
    inject: [AppConfig, DatabaseEndpoint],
    extraProviders: [
      {
        provide: DatabaseEndpoint,
        inject: [AppConfig, ModuleRef],
        useFactory: resolveEndpoint,
      },
    ],
    useFactory: async (config: AppConfig, endpoint: DatabaseEndpoint) => {
      const logger = new Logger('Database');
      const latencyMs = await waitForDatabase({
        url: endpoint.url,
        connectTimeoutMs: config.database.connectTimeoutMs,
        statementTimeoutMs: config.database.statementTimeoutMs,
        retryMs: config.database.startupRetryMs,
        // Plain-string messages: these lines may be printed before the JSON logger takes over.
        onRetry: (attempt, reason) =>
          logger.warn(`database not reachable yet (attempt ${attempt}: ${reason}); retrying`),
      });
      logger.log(`database reachable: the check took ${latencyMs.toFixed(2)} ms`);
      return {
        ...buildDataSourceOptions({ ...config.database, url: endpoint.url }, entities),
        // Start-up retries are ours (above); TypeORM's own would retry for minutes.
        retryAttempts: 0,
      };
    },
    dataSourceFactory: async (options?: DataSourceOptions) =>
      new TasksDataSource(options as DataSourceOptions).initialize(),
  });
