import 'reflect-metadata';
import { buildDataSourceOptions } from '../src/database/database-options';
import { TasksDataSource } from '../src/database/tasks-data-source';
import { ENTITIES } from '../src/entities';
import { Task } from '../src/tasks/task.entity';
import { TypeOrmTasksRepository } from '../src/tasks/tasks.repository';
import { sampleTasks, SeedPlan, totalTasks, userId } from './database';
import { percentile } from './scenarios';

/**
 * The repository alone, in this process, one call at a time: what each operation costs with no
 * HTTP around it, at two table sizes, to show that the cost does not grow with the table.
 */
export const REPOSITORY_OPERATIONS = ['findOne', 'list', 'create', 'update', 'toggleCompleted'];

export interface RepositoryTiming {
  operation: string;
  rows: number;
  calls: number;
  p50: number;
  p95: number;
}

export interface SizedDatabase {
  url: string;
  plan: SeedPlan;
}

type Call = () => Promise<unknown>;

async function openRepository(
  url: string,
): Promise<{ repository: TypeOrmTasksRepository; close: () => Promise<void> }> {
  const dataSource = new TasksDataSource(
    buildDataSourceOptions(
      { url, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 5000 },
      ENTITIES,
    ),
  );
  await dataSource.initialize();
  return {
    repository: new TypeOrmTasksRepository(dataSource.getRepository(Task)),
    close: () => dataSource.destroy(),
  };
}

async function calls(
  database: SizedDatabase,
  repository: TypeOrmTasksRepository,
): Promise<Record<string, Call>> {
  const pairs = await sampleTasks(database.url, database.plan, 1000, 2);
  const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)];
  const randomUser = (): string => userId(1 + Math.floor(Math.random() * database.plan.users));
  let sequence = 0;
  return {
    findOne: () => {
      const [owner, id] = pick(pairs);
      return repository.findOne(owner, id);
    },
    list: () => repository.list(randomUser(), { sort: '-created_at', limit: 50 }),
    create: () =>
      repository.create(randomUser(), {
        title: `Repository benchmark ${++sequence}`,
        description: 'Created by the benchmark',
      }),
    update: () => {
      const [owner, id] = pick(pairs);
      return repository.update(owner, id, { title: `Renamed ${++sequence}` });
    },
    toggleCompleted: () => {
      const [owner, id] = pick(pairs);
      return repository.toggleCompleted(owner, id);
    },
  };
}

async function time(call: Call, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples;
}

/**
 * Times every operation `count` times at each size. The sizes take turns call by call, so that
 * drift and bursts of other work (JIT, caches, autovacuum, other processes) fall on both alike;
 * a warm-up round goes first.
 */
export async function timeRepository(
  databases: SizedDatabase[],
  count: number,
  progress: (line: string) => void,
): Promise<RepositoryTiming[]> {
  const results: RepositoryTiming[] = [];
  const closers: (() => Promise<void>)[] = [];
  // The sizes alternate call by call: a burst of other work on the machine lands on both alike.
  const perBlock = 1;
  const blocks = Math.max(1, Math.ceil(count / perBlock));
  try {
    const callSets: Record<string, Call>[] = [];
    for (const database of databases) {
      const { repository, close } = await openRepository(database.url);
      closers.push(close);
      callSets.push(await calls(database, repository));
    }
    // The warm-up reads nearly every sampled row once (3,000 random picks of 1,000 pairs reach
    // 95 % of them), so that the comparison is of index depth, not of pages that PostgreSQL
    // (restarted for the run) still has to bring into its shared buffers: 200 calls left most
    // of the large database's pages cold, and their first reads made its p95.
    for (const operation of REPOSITORY_OPERATIONS) {
      for (const callSet of callSets) await time(callSet[operation], Math.min(3000, count));
    }
    for (const operation of REPOSITORY_OPERATIONS) {
      const samples = databases.map(() => [] as number[]);
      for (let block = 0; block < blocks; block++) {
        for (const [index, callSet] of callSets.entries()) {
          samples[index].push(...(await time(callSet[operation], perBlock)));
        }
      }
      for (const [index, database] of databases.entries()) {
        const sorted = Float64Array.from(samples[index]).sort();
        const rows = totalTasks(database.plan);
        const timing = {
          operation,
          rows,
          calls: sorted.length,
          p50: percentile(sorted, 50),
          p95: percentile(sorted, 95),
        };
        results.push(timing);
        progress(
          `  ${operation.padEnd(16)} at ${rows.toLocaleString('en-US').padStart(9)} rows: ` +
            `p50 ${timing.p50.toFixed(3)} ms, p95 ${timing.p95.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    for (const close of closers) await close();
  }
  return results;
}
