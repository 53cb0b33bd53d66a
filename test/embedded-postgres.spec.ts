import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import {
  EmbeddedDatabaseInUseError,
  EmbeddedPostgresServer,
} from '../src/database/embedded-postgres';
import { listeningUrl, spawnApp } from './support/app-process';
import { signToken } from './support/tokens';
import { TEST_JWT_SECRET } from './support/test-app';

const ROOT = resolve(__dirname, '..');

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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

  it('refuses a data directory that a live process serves, and leaves that server running', async () => {
    const owner = await EmbeddedPostgresServer.start(options());
    try {
      // This process owns the running server, so a second start finds a live owner.
      const second = EmbeddedPostgresServer.start(options());
      await expect(second).rejects.toBeInstanceOf(EmbeddedDatabaseInUseError);
      await expect(second).rejects.toThrow(
        new RegExp(
          `in use by process ${process.pid} .*stop that process first, or set DATABASE_URL`,
        ),
      );
      expect(await query(owner.url, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);
    } finally {
      await owner.stop();
    }
  }, 60_000);

  it('takes over a server whose owner was killed without stopping it', async () => {
    const dataDir = join(workDir, '.data', 'orphaned');
    const killedOwner = spawn(
      process.execPath,
      [
        '-r',
        resolve(ROOT, 'node_modules/ts-node/register/transpile-only'),
        resolve(ROOT, 'test/support/embedded-server.ts'),
        dataDir,
      ],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const [line] = (await once(createInterface({ input: killedOwner.stdout! }), 'line')) as [
      string,
    ];
    const orphanUrl = (JSON.parse(line) as { url: string }).url;
    const orphanPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    killedOwner.kill('SIGKILL');
    await once(killedOwner, 'exit');
    // SIGKILL runs no exit hook: the server is still there, serving nobody.
    expect(await query(orphanUrl, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);

    const server = await EmbeddedPostgresServer.start({ ...options(), dataDir });
    try {
      expect(logged.join('\n')).toMatch(
        new RegExp(
          `stopping the embedded PostgreSQL \\(pid ${orphanPid}\\) left running by process ${killedOwner.pid}`,
        ),
      );
      expect(isAlive(orphanPid)).toBe(false);
      expect(await query(server.url, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);
    } finally {
      await server.stop();
    }
  }, 90_000);

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

  it('in a process with no SIGTERM handler of its own, stops the server on SIGTERM and exits 143', async () => {
    const dataDir = join(workDir, '.data', 'script');
    const script = spawn(
      process.execPath,
      [
        '-r',
        resolve(ROOT, 'node_modules/ts-node/register/transpile-only'),
        '-e',
        `require(${JSON.stringify(resolve(ROOT, 'src/database/embedded-postgres.ts'))})
          .EmbeddedPostgresServer.start({ dataDir: ${JSON.stringify(dataDir)}, database: 'tasks', log: () => {} })
          .then((server) => { console.log(server.url); setInterval(() => {}, 1000); });`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [url] = (await once(createInterface({ input: script.stdout! }), 'line')) as [string];
    const postgresPid = Number(
      readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    expect(await query(url, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);
    script.kill('SIGTERM');
    const [code, signal] = (await once(script, 'exit')) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: 143, signal: null });
    expect(isAlive(postgresPid)).toBe(false);
  }, 90_000);

  // specification §6 with the embedded database of `npm start`: the package's own signal handler
  // must not stop the database (and the process) before the grace period has run.
  it('on SIGTERM keeps serving for SHUTDOWN_GRACE_MS, then exits 0 with the embedded server stopped', async () => {
    const graceMs = 3000;
    const app = spawnApp(
      {
        NODE_ENV: 'development',
        PORT: '0',
        HOST: '127.0.0.1',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        SHUTDOWN_GRACE_MS: String(graceMs),
        LOG_LEVEL: 'info',
      },
      workDir,
    );
    try {
      // A first start initialises the cluster (initdb): allow for a loaded machine.
      await app.waitForLine(/tasks service listening/, 90_000);
      const url = await listeningUrl(app);
      const pidFile = join(workDir, '.data', 'development', 'postmaster.pid');
      const postgresPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      const headers = { authorization: `Bearer ${await signToken('embedded-user')}` };
      const tasksUrl = `${url}/api/embedded-user/tasks`;
      expect((await fetch(tasksUrl, { headers })).status).toBe(200);

      const sigtermAt = performance.now();
      app.child.kill('SIGTERM');
      await app.waitForLine(/shutting down/, 10_000);
      expect((await fetch(`${url}/health`)).status).toBe(503);
      // Well inside the grace period: the API, and so the embedded database, still answer.
      const created = await fetch(tasksUrl, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'written during the grace period' }),
      });
      // Answered at all, so inside the grace period (the listener closes when it ends; the exit
      // time below shows it was honoured), and 201, so the embedded database still served it.
      expect(created.status).toBe(201);
      expect(isAlive(postgresPid)).toBe(true);

      const exit = await app.exit;
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.atMs - (sigtermAt - app.startedAt)).toBeGreaterThanOrEqual(graceMs - 100);
      expect(app.lines.join('\n')).toMatch(/embedded PostgreSQL stopped/);
      expect(isAlive(postgresPid)).toBe(false);
    } finally {
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
    }
  }, 120_000);
});
