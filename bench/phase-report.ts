import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type } from 'node:os';
import { resolve } from 'node:path';
import { type Context, loadAverage, log, seconds, serviceCommand } from './context';
import { eventsTable } from './phase-events';
import { syncTable } from './phase-sync';
import { parityWarnings } from './parity';
import { SLICE_SEC } from './phase-throughput';
import {
  comparisonRows,
  evaluateTargets,
  type Machine,
  markdownTable,
  type Measurements,
  type Section,
  type Target,
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

/** The conventional peer's peak RSS, beside the service's, when it ran. */
const peerMemory = (measurements: Measurements): string =>
  measurements.peerPeakRssMb === undefined
    ? ''
    : `; the conventional peer's: ${measurements.peerPeakRssMb.toFixed(0)} MB`;

/** The tables and the verdict on each target, on the terminal. */
function printSummary(measurements: Measurements, targets: Target[], started: number): void {
  log('');
  if (measurements.throughput) {
    const table = comparisonRows(measurements.throughput);
    log(textTable(table.headers, table.rows));
    log(
      `peak RSS of the service: ${measurements.peakRssMb?.toFixed(0)} MB ` +
        `(${measurements.readyRssMb?.toFixed(0)} MB once started)` +
        peerMemory(measurements),
    );
  }
  if (measurements.rtt) {
    const table = comparisonRows(measurements.rtt.comparisons);
    log(`\nwith --rtt ${measurements.rtt.rttMs} at ${measurements.rtt.connections} connections:`);
    log(textTable(table.headers, table.rows));
  }
  if (measurements.events) log(`\n${eventsTable(measurements.events).join('\n')}`);
  if (measurements.sync) log(`\n${syncTable(measurements.sync).join('\n')}`);
  if (parityWarnings().length > 0) {
    log(
      `\nthe floor and the service differ:\n${parityWarnings()
        .map((w) => `- ${w}`)
        .join('\n')}`,
    );
  }
  const targetTable = targetRows(targets);
  if (targets.some((target) => target.met !== null)) {
    log(`\ntargets:\n${textTable(targetTable.headers, targetTable.rows)}`);
  }
  log(`\nbenchmark done in ${seconds(started)}`);
}

/** The "Latest run" section of RESULTS.md: what was run where, the tables and the targets. */
function runSection(
  context: Context,
  measurements: Measurements,
  targets: Target[],
  details: Machine,
): string {
  const { options, settings } = context;
  const database = process.env.BENCH_DATABASE_URL
    ? 'BENCH_DATABASE_URL'
    : `embedded, ${options.durable ? 'durable' : 'fsync and synchronous_commit off'}`;
  const throughput = measurements.throughput ? comparisonRows(measurements.throughput) : null;
  const withPeer = measurements.throughput?.some((comparison) => comparison.peer) ?? false;
  const args = process.argv.slice(2);
  const command = args.length > 0 ? `npm run bench -- ${args.join(' ')}` : 'npm run bench';
  const targetTable = targetRows(targets);
  return [
    `Measured ${details.date} (${settings.mode} run, \`${command}\`), commit ${details.commit}.`,
    '',
    `- Machine: ${details.cpu}, ${details.cores} cores, ${details.memoryGiB} GiB; ${details.os}`,
    `- Node ${details.node}, PostgreSQL ${details.postgres} (${database})`,
    `- Seed: ${settings.seed}`,
    `- Load average (1, 5, 15 min) when the run ended: ${loadAverage()} (2 cores; other jobs share them)`,
    `- Load: autocannon in its own process, ${settings.connections} connections, ${settings.durationSec} s per route and server after ${settings.warmupSec} s of warm-up each; ${withPeer ? 'floor, service and conventional peer' : 'floor and service'} take turns in stretches of about ${SLICE_SEC} s (each slice in the reverse order of the one before, rotated every two: ABC CBA BCA …), never loaded at once`,
    `- Service: \`node ${serviceCommand(options).join(' ')}\` (as \`npm run start:prod\`), NODE_ENV=production, LOG_LEVEL=${settings.logLevel} (logs to a file), DATABASE_POOL_MAX=${settings.poolMax}; the floor has the same pool size${withPeer ? ', the conventional peer (bench/peer) the same environment and Node flags' : ''}`,
    '',
    ...(throughput
      ? [
          markdownTable(throughput.headers, throughput.rows, ['l']),
          '',
          `Peak RSS of the service (VmHWM): ${measurements.peakRssMb?.toFixed(0)} MB; ` +
            `${measurements.readyRssMb?.toFixed(0)} MB once it had started, before any load` +
            `${peerMemory(measurements)}.`,
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
    ...(measurements.events ? eventsTable(measurements.events) : []),
    ...(measurements.sync ? syncTable(measurements.sync) : []),
    ...parityNotes(measurements),
    '### Targets',
    '',
    markdownTable(targetTable.headers, targetTable.rows, ['l', 'l', 'l', 'l']),
  ].join('\n');
}

/** Whether the floor did the service's work (bench/parity.ts): a ratio is only worth its floor. */
function parityNotes(measurements: Measurements): string[] {
  const warnings = parityWarnings();
  if (warnings.length === 0) {
    const sql = measurements.roundTrips ? ' and sent the same SQL on every route' : '';
    return [`The floor gave the service's answers${sql} (bench/parity.ts).`, ''];
  }
  return [
    "The floor's work differed from the service's (bench/parity.ts), so the ratios above compare more than the stack:",
    '',
    ...warnings.map((warning) => `- ${warning}`),
    '',
  ];
}

/**
 * The end of a run: the summary on the terminal, and with `--write-results` the generated
 * sections of bench/RESULTS.md (otherwise the tracked file is left alone).
 */
export async function report(
  context: Context,
  measurements: Measurements,
  sections: Partial<Record<Section, string>>,
  postgres: string,
  started: number,
): Promise<void> {
  const targets = evaluateTargets(measurements);
  printSummary(measurements, targets, started);
  if (
    measurements.throughput ||
    measurements.roundTrips ||
    measurements.events ||
    measurements.sync
  ) {
    sections.run = runSection(context, measurements, targets, machine(postgres));
  }
  if (Object.keys(sections).length === 0) return;
  if (context.options.writeResults) {
    await writeResults(RESULTS_FILE, sections);
    log(`wrote ${Object.keys(sections).join(', ')} into bench/RESULTS.md`);
  } else {
    log('bench/RESULTS.md left as it is (--write-results puts this run into it)');
  }
}
