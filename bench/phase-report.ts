import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type } from 'node:os';
import { resolve } from 'node:path';
import { type Context, loadAverage, log, seconds, serviceCommand } from './context';
import { SLICE_SEC } from './phase-throughput';
import {
  comparisonRows,
  evaluateTargets,
  type Machine,
  markdownTable,
  type Measurements,
  type Section,
  targetRows,
  textTable,
  writeResults,
} from './report';
import { ROUTE_LABELS } from './scenarios';

const RESULTS_FILE = resolve('bench/RESULTS.md');

/** The machine, the software and the commit a run measured. */
function machine(postgres: string): Machine {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], {
      encoding: 'utf8',
    }).trim();
    if (dirty) commit += ' + uncommitted changes in src/ or migrations/';
  } catch {
    // Not a git checkout: the commit stays unknown.
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    postgres,
    date: new Date().toISOString(),
    commit,
  };
}

/**
 * The end of a run: the tables and the verdict on each target on the terminal, and with
 * `--write-results` the generated sections of bench/RESULTS.md.
 */
export async function report(
  context: Context,
  measurements: Measurements,
  sections: Partial<Record<Section, string>>,
  postgres: string,
  started: number,
): Promise<void> {
  const details = machine(postgres);
  const targets = evaluateTargets(measurements);
  log('');
  if (measurements.throughput) {
    const table = comparisonRows(measurements.throughput);
    log(textTable(table.headers, table.rows));
    log(
      `peak RSS of the service: ${measurements.peakRssMb?.toFixed(0)} MB ` +
        `(${measurements.readyRssMb?.toFixed(0)} MB once started)`,
    );
  }
  if (measurements.rtt) {
    const table = comparisonRows(measurements.rtt.comparisons);
    log(`\nwith --rtt ${measurements.rtt.rttMs} at ${measurements.rtt.connections} connections:`);
    log(textTable(table.headers, table.rows));
  }
  const targetTable = targetRows(targets);
  if (targets.some((target) => target.met !== null)) {
    log(`\ntargets:\n${textTable(targetTable.headers, targetTable.rows)}`);
  }
  log(`\nbenchmark done in ${seconds(started)}`);

  if (measurements.throughput || measurements.roundTrips) {
    const table = measurements.throughput ? comparisonRows(measurements.throughput) : null;
    sections.run = [
      `Measured ${details.date} (${context.settings.mode} run, \`npm run bench${context.options.quick ? ' -- --quick' : ''}\`), commit ${details.commit}.`,
      '',
      `- Machine: ${details.cpu}, ${details.cores} cores, ${details.memoryGiB} GiB; ${details.os}`,
      `- Node ${details.node}, PostgreSQL ${details.postgres} (${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : `embedded, ${context.options.durable ? 'durable' : 'fsync and synchronous_commit off'}`})`,
      `- Seed: ${context.settings.seed}`,
      `- Load average (1, 5, 15 min) when the run ended: ${loadAverage()} (2 cores; other jobs share them)`,
      `- Load: autocannon in its own process, ${context.settings.connections} connections, ${context.settings.durationSec} s per route and server after ${context.settings.warmupSec} s of warm-up each; floor and service take turns in stretches of about ${SLICE_SEC} s (ABBA order), never loaded at once`,
      `- Service: \`node ${serviceCommand(context.options).join(' ')}\` (as \`npm run start:prod\`), NODE_ENV=production, LOG_LEVEL=${context.settings.logLevel} (logs to a file), DATABASE_POOL_MAX=${context.settings.poolMax}; the floor has the same pool size`,
      '',
      ...(table
        ? [
            markdownTable(table.headers, table.rows, ['l']),
            '',
            `Peak RSS of the service (VmHWM): ${measurements.peakRssMb?.toFixed(0)} MB; ` +
              `${measurements.readyRssMb?.toFixed(0)} MB once it had started, before any load.`,
            '',
          ]
        : []),
      ...(measurements.roundTrips
        ? [
            'Database round trips per request (statements counted on the PostgreSQL wire by the proxy):',
            '',
            markdownTable(
              ['route', 'service', 'floor'],
              measurements.roundTrips.map((trip) => [
                ROUTE_LABELS[trip.route],
                trip.service.toFixed(2),
                trip.floor.toFixed(2),
              ]),
              ['l'],
            ),
            '',
          ]
        : []),
      '### Targets',
      '',
      markdownTable(targetTable.headers, targetTable.rows, ['l', 'l', 'l', 'l']),
    ].join('\n');
  }
  if (context.options.writeResults && Object.keys(sections).length > 0) {
    await writeResults(RESULTS_FILE, sections);
    log(`wrote ${Object.keys(sections).join(', ')} into bench/RESULTS.md`);
  }
}
