import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/database/embedded-postgres';

/**
 * Set by `.ci/run` once it has installed PgBouncer: the pooler tests then fail, rather than skip,
 * when the binary cannot be found.
 */
export const PGBOUNCER_REQUIRED_VAR = 'PGBOUNCER_REQUIRED';

/** The `pgbouncer` binary: PGBOUNCER_BIN, else on the PATH, else where Debian installs it. */
export function findPgBouncer(): string | null {
  const candidates = [process.env.PGBOUNCER_BIN, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export interface PgBouncerOptions {
  /** Start-up parameters it lets through without passing them on (none in a stock set-up). */
  ignoreStartupParameters?: string[];
  /** Server connections per database and user (PgBouncer's default: 20). */
  defaultPoolSize?: number;
}

/**
 * A PgBouncer in transaction mode, on a free loopback port, in front of the PostgreSQL server of
 * `serverUrl` (every database, logged in as that URL's user): what Neon's `-pooler` endpoint and
 * most managed poolers are. Otherwise stock settings.
 */
export class PgBouncer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly directory: string,
    readonly output: string[],
  ) {}

  static async start(
    binary: string,
    serverUrl: string,
    options: PgBouncerOptions = {},
  ): Promise<PgBouncer> {
    const server = new URL(serverUrl);
    const port = await freePort();
    const directory = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
    // PgBouncer refuses to run as root; as root it runs as `postgres`, which must read its files.
    chmodSync(directory, 0o755);
    const ini = join(directory, 'pgbouncer.ini');
    const login = [
      `host=${server.hostname}`,
      `port=${server.port || 5432}`,
      `user=${decodeURIComponent(server.username)}`,
      ...(server.password ? [`password=${decodeURIComponent(server.password)}`] : []),
    ].join(' ');
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = ${login}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = any',
        'pool_mode = transaction',
        'max_client_conn = 2000',
        `default_pool_size = ${options.defaultPoolSize ?? 20}`,
        ...(options.ignoreStartupParameters
          ? [`ignore_startup_parameters = ${options.ignoreStartupParameters.join(',')}`]
          : []),
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const asRoot = process.getuid?.() === 0;
    const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), ini], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    }
    const pgbouncer = new PgBouncer(child, port, directory, output);
    await pgbouncer.waitUntilListening();
    return pgbouncer;
  }

  /** `url` (a database of the server behind) with its host and port replaced by the pooler's. */
  via(url: string): string {
    const pooled = new URL(url);
    pooled.hostname = '127.0.0.1';
    pooled.port = String(this.port);
    return pooled.toString();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((done) => this.child.once('exit', done));
      this.child.kill('SIGINT');
      await exited;
    }
    rmSync(this.directory, { recursive: true, force: true });
  }

  private async waitUntilListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      const open = await new Promise<boolean>((answered) => {
        const socket = connect(this.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          answered(true);
        });
        socket.once('error', () => answered(false));
      });
      if (open) return;
      await new Promise((wait) => setTimeout(wait, 50));
    }
    throw new Error(`PgBouncer did not start:\n${this.output.join('')}`);
  }
}
