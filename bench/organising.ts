import 'reflect-metadata';
import { Client } from 'pg';
import { buildDataSourceOptions } from '../src/database/database-options';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { ENTITIES } from '../src/entities';
import { Task } from '../src/tasks/task.entity';
import { type TaskListQuery, TypeOrmTasksRepository } from '../src/tasks/tasks.repository';
import { migrate, withDatabase } from './database';
import { percentile } from './scenarios';

/**
 * `npm run bench:organising` (runs alone; not a phase of `npm run bench`): the sorts and search
 * of specification §13 on one user with 100,000 tasks, page 1 against page 200 (50 a page), in
 * this process through the repository, one call at a time. The keyset cursors make page 200
 * cost what page 1 costs: the ratio is the figure that matters (target ≤ 1.5).
 *
 * BENCH_DATABASE_URL: a server where it may create and drop the database `bench_organising`
 * (default postgresql://postgres@127.0.0.1:5432/postgres). BENCH_CALLS: timed calls per page and
 * scenario (default 200, after 50 of warm-up).
 */

const OWNER = 'bench-organiser';
const TASKS = 100_000;
const PAGE = 50;
const DEEP_PAGE = 200;

const SCENARIOS: { name: string; query: Omit<TaskListQuery, 'limit' | 'after'> }[] = [
  { name: 'sort=due', query: { sort: 'due' } },
  { name: 'sort=-priority', query: { sort: '-priority' } },
  // A word every task has: the search whose page 200 exists, and its most expensive case.
  {
    name: 'q=groceries (relevance)',
    query: { sort: 'relevance', filters: { words: ['groceries'] } },
  },
  { name: 'q=gro sort=due', query: { sort: 'due', filters: { words: ['gro'] } } },
];

async function seed(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET statement_timeout = 0');
    // Priorities, due dates (all-day, timed in two zones, none), tags and words in cycles.
    await client.query(
      `INSERT INTO tasks (user_id, title, description, priority, due_date, due_time, time_zone, tags)
       SELECT $1, 'task ' || n || ' groceries', 'note ' || (n % 97),
              (ARRAY['none', 'low', 'medium', 'high'])[n % 4 + 1]::task_priority,
              CASE WHEN n % 5 > 0 THEN date '2025-01-01' + n % 365 END,
              CASE WHEN n % 5 > 2 THEN time '08:00' + (n % 10) * interval '1 hour' END,
              CASE WHEN n % 5 > 2 THEN (ARRAY['Europe/Berlin', 'America/New_York'])[n % 2 + 1] END,
              ARRAY['tag-' || (n % 7)]
         FROM generate_series(1, $2) n`,
      [OWNER, TASKS],
    );
    await client.query('VACUUM ANALYZE tasks');
  } finally {
    await client.end();
  }
}

async function timed(call: () => Promise<unknown>, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

async function main(): Promise<void> {
  const adminUrl =
    process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const calls = Number(process.env.BENCH_CALLS ?? 200);
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS bench_organising WITH (FORCE)');
  await admin.query('CREATE DATABASE bench_organising');
  const url = withDatabase(adminUrl, 'bench_organising');
  try {
    await migrate(url);
    const seeding = performance.now();
    await seed(url);
    console.log(
      `seeded ${TASKS.toLocaleString('en-US')} tasks of one user in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );
    const dataSource = new TasksDataSource(
      buildDataSourceOptions(
        { url, poolMax: 1, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 },
        ENTITIES,
      ),
    );
    await dataSource.initialize();
    const repository = new TypeOrmTasksRepository(dataSource.getRepository(Task));
    const rows: string[] = [
      '| scenario | page 1 p50 (ms) | page 200 p50 (ms) | page 200 / page 1 |',
      '|---|---:|---:|---:|',
    ];
    for (const { name, query } of SCENARIOS) {
      // Page 200's cursor: the `next` of one page as long as the 199 before it.
      const skipped = await repository.list(OWNER, { ...query, limit: PAGE * (DEEP_PAGE - 1) });
      const after = skipped.next ?? undefined;
      if (!after) throw new Error(`${name}: fewer than ${PAGE * DEEP_PAGE} matches`);
      const first = () => repository.list(OWNER, { ...query, limit: PAGE });
      const deep = () => repository.list(OWNER, { ...query, limit: PAGE, after });
      await timed(first, 50);
      await timed(deep, 50);
      // Alternating, so that a burst of other work falls on both alike.
      const [firstSamples, deepSamples] = [[] as number[], [] as number[]];
      for (let i = 0; i < calls; i++) {
        firstSamples.push(...(await timed(first, 1)));
        deepSamples.push(...(await timed(deep, 1)));
      }
      const p50 = (samples: number[]) => percentile(Float64Array.from(samples).sort(), 50);
      const [one, two] = [p50(firstSamples), p50(deepSamples)];
      rows.push(`| ${name} | ${one.toFixed(2)} | ${two.toFixed(2)} | ${(two / one).toFixed(2)} |`);
    }
    await dataSource.destroy();
    console.log(rows.join('\n'));
  } finally {
    await admin.query('DROP DATABASE IF EXISTS bench_organising WITH (FORCE)');
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
