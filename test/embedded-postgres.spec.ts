import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresServer } from '../src/database/embedded-postgres';

const query = async (url: string, sql: string): Promise<unknown[]> => {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};

// The development database: a real PostgreSQL from an npm package, kept across restarts.
describe('EmbeddedPostgresServer', () => {
  let workDir: string;
  const logged: string[] = [];
  const options = () => ({
    dataDir: join(workDir, '.data', 'dev'),
    database: 'tasks',
    log: (message: string) => logged.push(message),
  });

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tasks-embedded-spec-'));
    await chmod(workDir, 0o755);
  });
  afterAll(() => rm(workDir, { recursive: true, force: true }));

  it('initialises a cluster on first start, creates the database, and keeps data across restarts', async () => {
    const first = await EmbeddedPostgresServer.start(options());
    try {
      expect(first.url).toMatch(/^postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/tasks$/);
      await query(first.url, 'CREATE TABLE kept (value text); INSERT INTO kept VALUES ($$yes$$)');
    } finally {
      await first.stop();
    }
    await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

    const second = await EmbeddedPostgresServer.start(options());
    try {
      expect(await query(second.url, 'SELECT value FROM kept')).toEqual([{ value: 'yes' }]);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('shares a server that another process already runs on the same directory', async () => {
    const owner = await EmbeddedPostgresServer.start(options());
    try {
      const sharer = await EmbeddedPostgresServer.start(options());
      expect(sharer.url).toBe(owner.url);
      expect(logged.join('\n')).toMatch(/already running on port \d+; reusing it/);
      // Stopping a shared server is the owner's job: the sharer's stop leaves it running.
      await sharer.stop();
      expect(await query(owner.url, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);
    } finally {
      await owner.stop();
    }
  }, 60_000);

  it('creates the named database only when it is missing', async () => {
    const server = await EmbeddedPostgresServer.start({ ...options(), database: 'other' });
    try {
      const admin = server.url.replace(/\/other$/, '/postgres');
      await EmbeddedPostgresServer.ensureDatabase(admin, 'other');
      const rows = await query(admin, `SELECT datname FROM pg_database WHERE datname = 'other'`);
      expect(rows).toHaveLength(1);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
