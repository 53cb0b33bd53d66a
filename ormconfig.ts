import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { AppConfig, type DatabaseSettings } from './src/config/app-config';
import { InvalidEnvironmentError, validateEnvironment } from './src/config/environment';
import { buildDataSourceOptions } from './src/database/database-options';
import { TasksDataSource } from './src/database/tasks-data-source';

/**
 * The TypeORM CLI's DataSource (`npm run migration:*`). Same options builder as the app; it
 * connects to DATABASE_DIRECT_URL when set, since migrations want a direct, non-pooled
 * connection (on Neon: the host without `-pooler`).
 */
// Like the app: `.env` is read in development only; variables already set in the environment win.
const nodeEnv = process.env.NODE_ENV;
if (nodeEnv !== 'production' && nodeEnv !== 'test' && existsSync('.env')) {
  process.loadEnvFile('.env');
}
/** A mistake in the invocation is one line on stderr, not the CLI's stack trace around it. */
function connectionUrl(): { database: DatabaseSettings; url: string } {
  try {
    const { database } = AppConfig.fromEnvironment(
      validateEnvironment(process.env, { requireAuth: false }),
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

const { database, url } = connectionUrl();
export default new TasksDataSource(buildDataSourceOptions({ ...database, url }));
