import 'reflect-metadata';
import { relative } from 'node:path';
import { type Context, loadAverage, log } from './context';
import {
  ensureSeed,
  openBenchDatabase,
  removeBenchmarkRows,
  sampleTasks,
  type SeedPlan,
  serverVersion,
  totalTasks,
  userId,
} from './database';
import { type Phase, parseOptions } from './options';
import { measureEvents } from './phase-events';
import { measureSync } from './phase-sync';
import { measureLever } from './phase-levers';
import { profileServers } from './phase-profile';
import { report } from './phase-report';
import { timeRepositoryPhase } from './phase-repository';
import { measureRoundTrips } from './phase-round-trips';
import { measureThroughput } from './phase-throughput';
import { compileChildren, Driver, ensureBuilt, WORK_DIR } from './processes';
import type { Measurements, RunSettings, Section } from './report';

/**
 * `npm run bench`: the service against its floor (bench/floor.ts). Each phase is a file of its
 * own: options.ts (the command line), phase-repository.ts, phase-throughput.ts,
 * phase-round-trips.ts, phase-events.ts, phase-levers.ts, phase-profile.ts and phase-report.ts;
 * this file seeds the database and runs the phases asked for, in that order.
 */

/** The second database of the repository phase: 10,000 tasks against the full seed. */
const SMALL_PLAN: SeedPlan = { users: 100, perUser: 100, bigUserTasks: 0 };

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const phases = options.phases;
  const needsServers = (
    ['throughput', 'roundtrips', 'rtt', 'events', 'sync', 'profile', 'lever'] as Phase[]
  ).some((phase) => phases.has(phase));
  log(`tasks service benchmark (${options.quick ? '--quick' : 'full'}): ${[...phases].join(', ')}`);
  log(
    `working files (the embedded PostgreSQL, server logs, profiles; about 2 GB once the full seed is there): ` +
      `${relative('.', WORK_DIR)}/`,
  );
  log(`load average (1, 5, 15 min): ${loadAverage()}`);
  if (needsServers) ensureBuilt(log);
  const jsDir = compileChildren();

  const database = await openBenchDatabase({
    // The quick and the full seed live side by side, so that switching does not reseed.
    name: options.quick ? 'tasks_bench_quick' : 'tasks_bench',
    durable: options.durable,
    log,
  });
  const driver = new Driver(jsDir);
  try {
    const postgres = await serverVersion(database.url);
    const total = await seed(database, options.plan, phases.has('repository'));
    const settings: RunSettings = {
      mode: options.quick ? 'quick' : 'full',
      connections: options.connections,
      durationSec: options.durationSec,
      warmupSec: options.warmupSec,
      poolMax: options.poolMax,
      logLevel: options.logLevel,
      durable: options.durable,
      seed:
        `${total} tasks: ${options.plan.users.toLocaleString('en-US')} users × ` +
        `${options.plan.perUser} + one user with ${options.plan.bigUserTasks.toLocaleString('en-US')}`,
    };
    const context: Context = {
      options,
      jsDir,
      database,
      driver,
      pairs: await sampleTasks(database.url, options.plan, 2_000, 2),
      users: Array.from({ length: options.plan.users }, (_, i) => userId(i + 1)),
      settings,
    };

    const measurements: Measurements = { connections: options.connections };
    const sections = await runPhases(context, measurements);
    log(`load average (1, 5, 15 min): ${loadAverage()}`);
    await report(context, measurements, sections, postgres, started);
  } finally {
    driver.close();
    await removeBenchmarkRows(database.url).catch(() => undefined);
    await database.stop();
  }
}

/** Runs the phases asked for, in order; returns the RESULTS.md sections they measured. */
async function runPhases(
  context: Context,
  measurements: Measurements,
): Promise<Partial<Record<Section, string>>> {
  const { options } = context;
  const phases = options.phases;
  const sections: Partial<Record<Section, string>> = {};
  if (phases.has('repository')) {
    sections.repository = await timeRepositoryPhase(context, SMALL_PLAN, measurements);
  }
  if (phases.has('throughput')) await measureThroughput(context, measurements);
  if (phases.has('roundtrips') || phases.has('rtt')) {
    const rtt = await measureRoundTrips(context, measurements);
    if (rtt !== undefined) sections.rtt = rtt;
  }
  if (phases.has('events')) await measureEvents(context, measurements);
  if (phases.has('sync')) await measureSync(context, measurements);
  if (phases.has('lever') && (options.lever || options.baselineDist || options.variantDist)) {
    await measureLever(context);
  }
  if (phases.has('profile')) sections.profile = await profileServers(context);
  return sections;
}

/** Seeds the databases unless they already hold the rows; returns the number of tasks, printed. */
async function seed(
  database: Awaited<ReturnType<typeof openBenchDatabase>>,
  plan: SeedPlan,
  withSmall: boolean,
): Promise<string> {
  const seedStarted = performance.now();
  const seeded = await ensureSeed(database.url, plan);
  const total = totalTasks(plan).toLocaleString('en-US');
  log(
    seeded === null
      ? `reusing the seeded database: ${total} tasks already there`
      : `seeded ${total} tasks in ${(seeded / 1000).toFixed(1)} s`,
  );
  if (withSmall && database.smallUrl) {
    const small = await ensureSeed(database.smallUrl, SMALL_PLAN);
    log(small === null ? 'reusing the 10,000-task database' : 'seeded the 10,000-task database');
  }
  log(`database ready in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
  return total;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
