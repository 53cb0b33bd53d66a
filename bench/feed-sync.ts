import { loadavg } from 'node:os';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_PAGE_SIZE } from '../src/owned-resources/pagination';
import { BIG_USER, ensureSeed, withDatabase } from './database';
import { EmbeddedPostgresServer } from '../src/database/embedded-postgres';
import { cpuTimeMs, ensureBuilt, freePort, startServer, WORK_DIR } from './processes';
import { formatProfile, summariseProfile } from './profile-summary';
import { signToken } from './tokens';

/**
 * A whole first sync of the changes feed: a client without a token follows `next` from the
 * first call until `has_more` is false, `MAX_PAGE_SIZE` changes a call. Beside it, the same rows
 * read as list pages of the largest size the list allows, following `Link: rel="next"`: the
 * feed's cost per row is judged against the list's.
 *
 * `firstSync` and `readAllPages` are what the benchmark calls on a running service; run on its
 * own (`npx ts-node --transpile-only bench/feed-sync.ts`), this file seeds one user of
 * `--tasks` tasks into `--database-url`, starts the build as production does and alternates the
 * two reads for `--rounds` rounds: beside an earlier build with `--baseline-dist DIR` (turn by
 * turn), under a CPU profile with `--cpu-prof` (`--reads feed` or `list` for one of them).
 */

/** A running service and the user whose rows are read. */
export interface SyncTarget {
  baseUrl: string;
  userId: string;
  /** Signs a token for a user (the benchmark's own, bench/tokens.ts). */
  sign: (userId: string) => string;
  /** The service's process id: its CPU time is then measured from /proc (Linux). */
  pid?: number;
}

/** What one whole read cost. */
export interface SyncMeasure {
  calls: number;
  rows: number;
  /** Distinct ids among the rows: a first sync sends each live item once. */
  distinctIds: number;
  /** Response bodies, in bytes. */
  bytes: number;
  ms: number;
  /** The service's user + system CPU time during the read; NaN without a pid or /proc. */
  cpuMs: number;
}

interface ChangesBody {
  changes: { id: string }[];
  next: string;
  has_more: boolean;
}

const NEXT_LINK = /<([^>]+)>\s*;\s*rel="?next"?/;

/** Runs `read` (one call at a time, as one client does) and measures it. */
async function measured(
  target: SyncTarget,
  read: (get: (path: string) => Promise<Response>) => Promise<{ calls: number; ids: string[] }>,
  bytesRead: { bytes: number },
): Promise<SyncMeasure> {
  const headers = { authorization: `Bearer ${target.sign(target.userId)}` };
  const get = async (path: string): Promise<Response> => {
    const response = await fetch(new URL(path, target.baseUrl), { headers });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return response;
  };
  const cpuBefore = target.pid === undefined ? Number.NaN : cpuTimeMs(target.pid);
  const started = performance.now();
  const { calls, ids } = await read(get);
  const ms = performance.now() - started;
  const cpuMs = target.pid === undefined ? Number.NaN : cpuTimeMs(target.pid) - cpuBefore;
  return {
    calls,
    rows: ids.length,
    distinctIds: new Set(ids).size,
    bytes: bytesRead.bytes,
    ms,
    cpuMs,
  };
}

/** A whole first sync of `target.userId`'s tasks: `next` followed until `has_more` is false. */
export function firstSync(target: SyncTarget, limit = MAX_PAGE_SIZE): Promise<SyncMeasure> {
  const counted = { bytes: 0 };
  const base = `/api/${encodeURIComponent(target.userId)}/tasks/changes?limit=${limit}`;
  return measured(
    target,
    async (get) => {
      const ids: string[] = [];
      let calls = 0;
      let since: string | undefined;
      for (;;) {
        const text = await (
          await get(since === undefined ? base : `${base}&since=${encodeURIComponent(since)}`)
        ).text();
        calls += 1;
        counted.bytes += Buffer.byteLength(text);
        const body = JSON.parse(text) as ChangesBody;
        for (const change of body.changes) ids.push(change.id);
        if (!body.has_more) return { calls, ids };
        since = body.next;
      }
    },
    counted,
  );
}

/** The same user's tasks read as list pages of `limit`, `Link: rel="next"` followed to the end. */
export function readAllPages(target: SyncTarget, limit = MAX_PAGE_SIZE): Promise<SyncMeasure> {
  const counted = { bytes: 0 };
  return measured(
    target,
    async (get) => {
      const ids: string[] = [];
      let calls = 0;
      let path: string | undefined =
        `/api/${encodeURIComponent(target.userId)}/tasks?limit=${limit}`;
      while (path !== undefined) {
        const response = await get(path);
        const text = await response.text();
        calls += 1;
        counted.bytes += Buffer.byteLength(text);
        for (const task of JSON.parse(text) as { id: string }[]) ids.push(task.id);
        path = NEXT_LINK.exec(response.headers.get('link') ?? '')?.[1];
      }
      return { calls, ids };
    },
    counted,
  );
}

/** µs of service CPU per row. */
export const cpuPerRowUs = (measure: SyncMeasure): number => (measure.cpuMs * 1000) / measure.rows;

const SECRET = 'feed-sync-benchmark-secret-with-more-than-32-characters';

const row = (name: string, measure: SyncMeasure): string =>
  `| ${name.padEnd(20)} | ${String(measure.calls).padStart(5)} | ${String(measure.rows).padStart(7)} | ` +
  `${(measure.bytes / 1e6).toFixed(1).padStart(6)} | ${measure.ms.toFixed(0).padStart(6)} | ` +
  `${measure.cpuMs.toFixed(0).padStart(6)} | ${cpuPerRowUs(measure).toFixed(1).padStart(6)} |`;

const loadAverage = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');

type Read = 'feed' | 'list';

/** One build under test, started as production starts it. */
interface Build {
  name: string;
  dist: string;
  target?: SyncTarget;
  stop?: () => Promise<void>;
  measures: Record<Read, SyncMeasure[]>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'database-url': {
        type: 'string',
        default: 'postgresql://postgres@127.0.0.1:5432/feed_bench',
      },
      tasks: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '3' },
      /** Another build (an earlier commit's `dist/`) measured beside this one, turn by turn. */
      'baseline-dist': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      /** `feed` or `list` alone (a profile of one of them), or `both`. */
      reads: { type: 'string', default: 'both' },
    },
  });
  const log = (line: string): void => console.log(`[feed-sync] ${line}`);
  const url = values['database-url'];
  const tasks = Number(values.tasks);
  const rounds = Number(values.rounds);
  const reads: Read[] = values.reads === 'both' ? ['feed', 'list'] : [values.reads as Read];
  const database = new URL(url).pathname.slice(1);
  await EmbeddedPostgresServer.ensureDatabase(withDatabase(url, 'postgres'), database);
  const seeded = await ensureSeed(url, { users: 1, perUser: 0, bigUserTasks: tasks });
  log(seeded === null ? 'seed reused' : `seeded ${tasks} tasks in ${(seeded / 1000).toFixed(1)} s`);
  ensureBuilt(log);

  const profileDir = join(WORK_DIR, 'feed-sync-profile');
  const profiling = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profiling.length > 0) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const builds: Build[] = [{ name: 'service', dist: 'dist', measures: { feed: [], list: [] } }];
  const baseline = values['baseline-dist'];
  if (baseline) builds.push({ name: 'baseline', dist: baseline, measures: { feed: [], list: [] } });
  // The profile's clock starts with the process: only the measured rounds are summarised.
  const spawned = performance.now();
  const window = { fromMs: 0, toMs: 0 };
  try {
    for (const build of builds) {
      const port = await freePort();
      const server = await startServer({
        name: `feed-sync-${build.name}`,
        command: ['--max-old-space-size=160', ...profiling, join(build.dist, 'src/main.js')],
        env: {
          NODE_ENV: 'production',
          LOG_LEVEL: 'info',
          HOST: '127.0.0.1',
          PORT: String(port),
          DATABASE_URL: url,
          DATABASE_POOL_MAX: '10',
          DB_MIGRATIONS_RUN: 'false',
          AUTH_JWT_SECRET: SECRET,
          SHUTDOWN_GRACE_MS: '0',
        },
        port,
      });
      build.stop = () => server.stop();
      build.target = {
        baseUrl: server.url,
        userId: BIG_USER,
        sign: (user) => signToken(SECRET, user),
        pid: server.pid,
      };
    }
    log(`load average before: ${loadAverage()}`);
    const read = (target: SyncTarget, name: Read) =>
      name === 'feed' ? firstSync(target) : readAllPages(target);
    // Warm-up: statements prepared, code optimised.
    for (const build of builds) {
      for (const name of reads) await read(build.target as SyncTarget, name);
    }
    window.fromMs = performance.now() - spawned;
    console.log(
      '\n| build, read          | calls |    rows |     MB |     ms | CPU ms | µs/row |\n' +
        '| -------------------- | ----: | ------: | -----: | -----: | -----: | -----: |',
    );
    // ABBA at both levels: whatever else the machine does falls on every pair alike.
    const turns = builds.flatMap((build) => reads.map((name) => [build, name] as const));
    for (let round = 0; round < rounds; round++) {
      for (const [build, name] of round % 2 === 0 ? turns : [...turns].reverse()) {
        const measure = await read(build.target as SyncTarget, name);
        if (measure.distinctIds !== tasks || measure.rows !== tasks) {
          throw new Error(`${name}: ${measure.rows} rows, ${measure.distinctIds} distinct ids`);
        }
        build.measures[name].push(measure);
        console.log(row(`${build.name}, ${name === 'feed' ? 'first sync' : 'list'}`, measure));
      }
    }
    window.toMs = performance.now() - spawned;
    console.log('');
    for (const build of builds) {
      const perRow = (name: Read) => {
        const measures = build.measures[name];
        return (
          (measures.reduce((sum, m) => sum + m.cpuMs, 0) * 1000) /
          measures.reduce((sum, m) => sum + m.rows, 0)
        );
      };
      const sync = build.measures.feed.map((m) => m.ms);
      console.log(
        `${build.name}: service CPU per row: first sync ${perRow('feed').toFixed(1)} µs, ` +
          `list pages ${perRow('list').toFixed(1)} µs (feed/list ` +
          `${(perRow('feed') / perRow('list')).toFixed(2)}); first sync median ` +
          `${sync.length > 0 ? median(sync).toFixed(0) : '-'} ms`,
      );
    }
    console.log(`load average after: ${loadAverage()}`);
  } finally {
    for (const build of builds) await build.stop?.();
  }
  if (profiling.length > 0) {
    for (const file of readdirSync(profileDir)) {
      console.log(`\n${join(profileDir, file)}`);
      console.log(formatProfile(summariseProfile(join(profileDir, file), 30, window)));
    }
  }
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
