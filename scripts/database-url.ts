/**
 * Prints the URL of the development database that a running `npm start` serves from its embedded
 * PostgreSQL (`.data/<NODE_ENV>`, database `tasks`), whose port changes on every start:
 *
 *   psql "$(npm run -s db:url)"
 *   DATABASE_URL="$(npm run -s db:url)" npm run migration:show
 *
 * The server listens on loopback only, with the fixed local credentials in the URL.
 */
import {
  EMBEDDED_DATABASE,
  EmbeddedPostgresServer,
  embeddedDataDir,
} from '../src/database/embedded-postgres';

const dataDir = embeddedDataDir(process.env.NODE_ENV ?? 'development');
const url = EmbeddedPostgresServer.runningUrl(dataDir, EMBEDDED_DATABASE);
if (url) {
  process.stdout.write(`${url}\n`);
} else {
  process.stderr.write(
    `No embedded PostgreSQL is running in ${dataDir}: start the service (npm start) first.\n`,
  );
  process.exit(1);
}
