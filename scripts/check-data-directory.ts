/**
 * The first step of `npm start`, run by scripts/compile-for-start.sh with what it just compiled:
 * when another process serves this checkout's embedded database (`.data/<NODE_ENV>`, used
 * without DATABASE_URL), say so in one line and stop before the running instance's `dist/` is
 * replaced. A bad environment is left for the service to report.
 */
import 'reflect-metadata';
import { AppConfig } from '../src/config/app-config';
import { InvalidEnvironmentError, validateEnvironment } from '../src/config/environment';
import { readEnvironment } from '../src/config/environment-file';
import {
  EmbeddedDatabaseInUseError,
  refuseEmbeddedDatabaseInUse,
} from '../src/database/embedded-postgres';

try {
  refuseEmbeddedDatabaseInUse(AppConfig.fromEnvironment(validateEnvironment(readEnvironment())));
} catch (error) {
  if (!(error instanceof InvalidEnvironmentError)) {
    process.stderr.write(
      `${error instanceof EmbeddedDatabaseInUseError ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
}
