import 'reflect-metadata';
import { AppConfig, type DatabaseSettings } from './src/config/app-config';
import { InvalidEnvironmentError, validateEnvironment } from './src/config/environment';
import { readEnvironment } from './src/config/environment-file';
import { buildDataSourceOptions } from './src/database/database-options';
import { createDatabaseRemedy, describeConnectionError } from './src/database/database-startup';
import { TasksDataSource } from './src/database/tasks-data-source';
import { ENTITIES } from './src/entities';

/**
 * The TypeORM CLI's DataSource (`npm run migration:*`). Same options builder as the app; it
 * connects to DATABASE_DIRECT_URL when set, since migrations want a direct, non-pooled
 * connection (on Neon: the host without `-pooler`).
 * Like the app, it reads `.env` in development only; variables already set in the environment win.
 */

/** A mistake in the invocation is one line on stderr, not the CLI's stack trace around it. */
function connectionUrl(): { database: DatabaseSettings; url: string } {
  try {
    const { database } = AppConfig.fromEnvironment(
      validateEnvironment(readEnvironment(), { requireAuth: false }),
    );
    if (database.directUrl) return { database, url: database.directUrl };
  } catch (error) {
    if (!(error instanceof InvalidEnvironmentError)) throw error;
    exitWith(error.message);
  }
  return exitWith(
    'Set DATABASE_URL (or DATABASE_DIRECT_URL) to the database to migrate, e.g. ' +
      'DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tasks npm run migration:show, or ' +
      'DATABASE_URL="$(npm run -s db:url)" npm run migration:show for the development database ' +
      'of a running `npm start`',
  );
}

function exitWith(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** A database that is missing or cannot be reached is one line too, with what to do about it. */
class CliDataSource extends TasksDataSource {
  override async initialize(): Promise<this> {
    try {
      return await super.initialize();
    } catch (error) {
      // Errors of the driver or the network carry a code; anything else keeps its stack trace.
      if (typeof (error as { code?: unknown }).code !== 'string') throw error;
      const reason = describeConnectionError(error);
      if (reason === '3D000') exitWith(createDatabaseRemedy(url));
      const { hostname, port } = new URL(url);
      return exitWith(`cannot connect to the database on ${hostname}:${port || 5432} (${reason})`);
    }
  }
}

const { database, url } = connectionUrl();
export default new CliDataSource(buildDataSourceOptions({ ...database, url }, ENTITIES));
