import { documentedSession, recordSession, SESSION_USER } from '../scripts/api-session';
import { listeningUrl, spawnServingApp } from './support/app-process';
import { createTestDatabase } from './support/test-database';
import { signToken } from './support/tokens';

/** What differs from one run to the next: ids, times, request ids and the Date header. */
const normalised = (session: string): string =>
  session
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/^Date: .*$/gm, 'Date: <date>');

// docs/api.md's curl session is what the service answers: a real process, over real
// connections, every header in the order sent. `npm run docs:api` rewrites it after a change.
describe("docs/api.md's recorded session", () => {
  it('is what the service answers today', async () => {
    const database = await createTestDatabase();
    const app = spawnServingApp(database.url);
    try {
      const url = await listeningUrl(app);
      const recorded = await recordSession(url, await signToken(SESSION_USER));
      expect(normalised(recorded)).toEqual(normalised(documentedSession()));
    } finally {
      app.child.kill('SIGKILL');
      await database.drop();
    }
  }, 60_000);
});
