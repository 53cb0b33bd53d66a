import 'reflect-metadata';
import { Client } from 'pg';
import { buildDataSourceOptions } from '../src/database/database-options';
import { EmbeddedPostgresServer } from '../src/database/embedded-postgres';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { SEARCH_WORD } from './scenarios';

/** How many tasks to seed: `users` × `perUser` regular tasks plus one big user's list. */
export interface SeedPlan {
  users: number;
  perUser: number;
  bigUserTasks: number;
}

export const BIG_USER = 'bench-user-big';
export const userId = (n: number): string => `bench-user-${String(n).padStart(5, '0')}`;
export const totalTasks = (plan: SeedPlan): number => plan.users * plan.perUser + plan.bigUserTasks;

/**
 * Seeded rows have distinct `created_at` values one millisecond apart from SEED_EPOCH, all before
 * SEED_END; rows the benchmark itself creates are stamped now(), after it, and are removed
 * before and after every run so that the seeded database can be reused.
 */
const SEED_EPOCH = '2024-01-01T00:00:00Z';
const SEED_END = '2024-06-01T00:00:00Z';

/** Enough for the full seed's table and indexes (about 400 MB) with room for a run's writes. */
export const SHARED_BUFFERS = '1GB';

export interface BenchDatabase {
  /** The main database: the full (or --quick) seed. */
  url: string;
  /** A database of 10,000 rows for the repository's size comparison; null when unavailable. */
  smallUrl: string | null;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'tasks-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * An embedded PostgreSQL under bench/.work/pg (or BENCH_DATABASE_URL), with a main database and
 * a small one. The embedded cluster runs without fsync and synchronous commit by default: it is
 * throw-away, reseeded when in doubt, and the benchmark compares the service with its floor on
 * the same database rather than measuring a disk (`--durable` turns both back on).
 */
export async function openBenchDatabase(options: {
  /** Database name in the embedded cluster (BENCH_DATABASE_URL names its own). */
  name: string;
  durable: boolean;
  log: (line: string) => void;
}): Promise<BenchDatabase> {
  let url = process.env.BENCH_DATABASE_URL;
  let server: EmbeddedPostgresServer | null = null;
  if (!url) {
    const start = () =>
      EmbeddedPostgresServer.start({
        dataDir: 'bench/.work/pg',
        database: options.name,
        log: () => undefined,
        durable: options.durable,
      });
    server = await start();
    url = server.url;
    // PostgreSQL's default of 128 MB of shared buffers holds a third of the full seed; a
    // production database keeps its working set in memory, so the benchmark's does too (the
    // setting needs a restart, done once: it is kept in the data directory).
    const current = await withClient(url, async (client) => {
      const { rows } = await client.query<{ shared_buffers: string }>('SHOW shared_buffers');
      return rows[0].shared_buffers;
    });
    if (current !== SHARED_BUFFERS) {
      await withClient(url, (client) =>
        client.query(`ALTER SYSTEM SET shared_buffers = '${SHARED_BUFFERS}'`),
      );
      await server.stop();
      server = await start();
      url = server.url;
      options.log(`embedded PostgreSQL: shared_buffers ${current} → ${SHARED_BUFFERS}`);
    }
  }
  const parsed = new URL(url);
  const smallName = `${parsed.pathname.slice(1) || 'postgres'}_small`;
  let smallUrl: string | null = withDatabase(url, smallName);
  try {
    await EmbeddedPostgresServer.ensureDatabase(withDatabase(url, 'postgres'), smallName);
  } catch (error) {
    options.log(
      `cannot create database ${smallName} (${(error as Error).message}): ` +
        'the repository is timed at the main size only',
    );
    smallUrl = null;
  }
  return {
    url,
    smallUrl,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    stop: async () => {
      await server?.stop();
    },
  };
}

/** Applies the project's own migrations, under their advisory lock. */
export async function migrate(url: string): Promise<void> {
  const dataSource = new TasksDataSource(
    buildDataSourceOptions({
      url,
      poolMax: 2,
      connectTimeoutMs: 10_000,
      statementTimeoutMs: 60_000,
    }),
  );
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

/** Removes the tasks a benchmark run created, leaving the seed. */
export async function removeBenchmarkRows(url: string): Promise<number> {
  return withClient(url, async (client) => {
    // Maintenance of the benchmark's own database, across all of its users at once.
    const result = await client.query('DELETE FROM tasks WHERE created_at >= $1', [SEED_END]);
    return result.rowCount ?? 0;
  });
}

/**
 * Makes sure the database holds exactly the planned seed: reuses it when the row counts match
 * (reruns stay fast), else truncates and seeds with one INSERT … SELECT over generate_series.
 * Returns how long seeding took, or null when the existing seed was reused.
 */
export async function ensureSeed(url: string, plan: SeedPlan): Promise<number | null> {
  await migrate(url);
  await removeBenchmarkRows(url);
  return withClient(url, async (client) => {
    const expected = totalTasks(plan);
    // A seed of before the organising fields (no tags anywhere) is made again.
    const { rows } = await client.query<{ total: string; big: string; organised: boolean }>(
      `SELECT (SELECT count(*) FROM tasks) AS total,
              (SELECT count(*) FROM tasks WHERE user_id = $1) AS big,
              EXISTS (SELECT 1 FROM tasks WHERE user_id = $1 AND tags <> '{}') AS organised`,
      [BIG_USER],
    );
    if (
      Number(rows[0].total) === expected &&
      Number(rows[0].big) === plan.bigUserTasks &&
      (rows[0].organised || plan.bigUserTasks === 0)
    ) {
      // Earlier runs' updates left dead row versions behind: clear them, as autovacuum would.
      await client.query('VACUUM (ANALYZE) tasks');
      return null;
    }
    const started = performance.now();
    const regular = plan.users * plan.perUser;
    // Loading into a table without its indexes and building them afterwards is several times
    // faster than maintaining five B-trees row by row. The definitions are read back from the
    // catalog, so the rebuilt indexes are exactly the ones the migrations made; everything runs
    // in one transaction, so a failure leaves the schema as it was.
    await client.query('BEGIN');
    try {
      await client.query("SET LOCAL maintenance_work_mem = '256MB'");
      const { rows: constraints } = await client.query<{ name: string; definition: string }>(
        `SELECT conname AS name, pg_get_constraintdef(oid) AS definition
           FROM pg_constraint WHERE conrelid = 'tasks'::regclass AND contype IN ('p', 'u')`,
      );
      const { rows: indexes } = await client.query<{ name: string; definition: string }>(
        `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
          WHERE schemaname = current_schema() AND tablename = 'tasks'
            AND indexname NOT IN (SELECT conname FROM pg_constraint
                                   WHERE conrelid = 'tasks'::regclass)`,
      );
      await client.query('TRUNCATE tasks');
      for (const index of indexes) await client.query(`DROP INDEX "${index.name}"`);
      for (const constraint of constraints) {
        await client.query(`ALTER TABLE tasks DROP CONSTRAINT "${constraint.name}"`);
      }
      // Regular users' tasks interleave in time, as real users' do; each row gets its own
      // created_at, so that the list order and the keyset cursor never meet a tie. The organising
      // fields (specification §13) vary as a user's would: most tasks without priority, 60 % with
      // a due date (a third of those at a time of day in one of four zones), a few tags, titles
      // from a dozen phrases and, in one task of 331, SEARCH_WORD (bench/scenarios.ts). The
      // triggers derive `due_at` and the search document, as for any insert.
      await client.query(
        `INSERT INTO tasks (user_id, title, description, completed, priority, due_date, due_time,
                            time_zone, tags, created_at, updated_at)
         SELECT CASE WHEN g <= $1 THEN 'bench-user-' || lpad((1 + (g - 1) % $2)::text, 5, '0')
                     ELSE $3 END,
                CASE WHEN g % 331 = 0 THEN 'Book the ' || $6::text || ' ' || g
                     ELSE (ARRAY['Buy groceries', 'Call the bank', 'Review the report',
                                 'Email Anna', 'Pay the rent', 'Fix the bike', 'Plan the trip',
                                 'Clean the kitchen', 'Read a chapter', 'Water the plants',
                                 'Renew the passport', 'Prepare the slides'])[1 + g % 12]
                          || ' ' || g END,
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'Description of seeded task ' || g END,
                g % 4 = 0,
                (ARRAY['none', 'none', 'none', 'none', 'low', 'low', 'medium', 'medium', 'high',
                       'none'])[1 + (g / 7) % 10]::task_priority,
                CASE WHEN g % 5 < 3 THEN date '2024-01-01' + (g::bigint * 7919 % 730)::int END,
                CASE WHEN g % 5 = 0 THEN time '08:00' + (g % 12) * interval '1 hour' END,
                CASE WHEN g % 5 = 0
                     THEN (ARRAY['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC'])[1 + (g / 5) % 4]
                     END,
                string_to_array((ARRAY['', 'work', 'home', 'errands', 'home,phone', 'computer,work',
                                       '', 'urgent,work', 'waiting', ''])[1 + (g / 3) % 10], ','),
                $4::timestamptz + g * interval '1 millisecond',
                $4::timestamptz + g * interval '1 millisecond'
           FROM generate_series(1, $5::integer) AS g`,
        [regular, plan.users, BIG_USER, SEED_EPOCH, expected, SEARCH_WORD],
      );
      for (const constraint of constraints) {
        await client.query(
          `ALTER TABLE tasks ADD CONSTRAINT "${constraint.name}" ${constraint.definition}`,
        );
      }
      for (const index of indexes) await client.query(index.definition);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    await client.query('VACUUM (ANALYZE) tasks');
    await client.query('CHECKPOINT').catch(() => undefined);
    return performance.now() - started;
  });
}

/** `count` [userId, taskId] pairs of seeded tasks, `perUser` from each of many random users. */
export async function sampleTasks(
  url: string,
  plan: SeedPlan,
  users: number,
  perUser: number,
): Promise<[string, string][]> {
  const chosen = new Set<string>();
  const wanted = Math.min(users, plan.users);
  while (chosen.size < wanted) chosen.add(userId(1 + Math.floor(Math.random() * plan.users)));
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ user_id: string; id: string }>(
      `SELECT t.user_id, t.id
         FROM unnest($1::text[]) AS owner(user_id)
         CROSS JOIN LATERAL (
           SELECT user_id, id FROM tasks
            WHERE tasks.user_id = owner.user_id AND created_at < $3
            ORDER BY random() LIMIT $2) AS t`,
      [[...chosen], perUser, SEED_END],
    );
    return rows.map((row) => [row.user_id, row.id] as [string, string]);
  });
}

export async function serverVersion(url: string): Promise<string> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0].server_version;
  });
}
