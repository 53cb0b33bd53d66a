import { type Context, log, seconds } from './context';
import { removeBenchmarkRows, type SeedPlan } from './database';
import { markdownTable, type Measurements, repositoryRows } from './report';
import { type RepositoryTiming, timeRepository } from './repository-timing';

/**
 * The repository alone, in this process, one call at a time: the large seed against a
 * 10,000-task database, so that a query that slows with the table shows. Returns the RESULTS.md
 * section.
 */
export async function timeRepositoryPhase(
  context: Context,
  smallPlan: SeedPlan,
  measurements: Measurements,
): Promise<string> {
  log('\nrepository, in process, one call at a time:');
  const sized = [
    ...(context.database.smallUrl ? [{ url: context.database.smallUrl, plan: smallPlan }] : []),
    { url: context.database.url, plan: context.options.plan },
  ];
  const phaseStarted = performance.now();
  const timings: RepositoryTiming[] = await timeRepository(sized, context.options.repoCalls, log);
  log(`  (${seconds(phaseStarted)})`);
  measurements.repository = timings;
  for (const { url } of sized) await removeBenchmarkRows(url);
  const table = repositoryRows(timings);
  return [
    `Measured ${new Date().toISOString()} (${context.settings.mode}): \`TypeOrmTasksRepository\` on a`,
    `\`TasksDataSource\`, in the benchmark's own process, ${context.options.repoCalls.toLocaleString('en-US')} sequential calls per`,
    'operation and size after a warm-up; random owners and tasks.',
    '',
    markdownTable(table.headers, table.rows, ['l']),
  ].join('\n');
}
