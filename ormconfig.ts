import 'reflect-metadata';
import { AppConfig } from './src/config/app-config';
import { validateEnvironment } from './src/config/environment';
import { readEnvironment } from './src/config/environment-file';
import { buildDataSourceOptions } from './src/database/database-options';
import { TasksDataSource } from './src/database/tasks-data-source';
import { ENTITIES } from './src/entities';

/**
 * The TypeORM CLI's DataSource (`npm run migration:*`). Same options builder as the app; it
 * connects to DATABASE_DIRECT_URL when set, since migrations want a direct, non-pooled
 * connection (on Neon: the host without `-pooler`).
 */
// Like the app: `.env` is read in development only; variables already set in the environment win.
const { database } = AppConfig.fromEnvironment(
  validateEnvironment(readEnvironment(), { requireAuth: false }),
);
const url = database.directUrl;
if (!url) {
  throw new Error(
    'Set DATABASE_URL (or DATABASE_DIRECT_URL) to the database to migrate, for example ' +
      'DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tasks npm run migration:run',
  );
}

export default new TasksDataSource(buildDataSourceOptions({ ...database, url }, ENTITIES));
