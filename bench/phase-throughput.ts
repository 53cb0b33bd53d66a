import { removeBenchmarkRows } from './database';
import {
  type Context,
  deepPaths,
  describeLoad,
  log,
  type Pair,
  scenarioFor,
  seconds,
  startPair,
} from './context';
import { cpuTimeMs, machineBusyMs, postgresCpuMs } from './processes';
import type { Comparison, Measurements } from './report';
import {
  type LoadSample,
  ROUTE_LABELS,
  type RouteName,
  type Scenario,
  summarise,
} from './scenarios';

/** Seconds of one stretch of load; the floor and the service take turns in such stretches. */
export const SLICE_SEC = 1;

/**
 * Routes measured together, taking turns: page 1 and page 200 of the big user are compared with
 * each other (a target), so they share their slices of time as the service and floor do.
 */
const ROUTE_GROUPS: RouteName[][] = [
  ['get-one'],
  ['list-first'],
  ['big-page-1', 'big-page-200'],
  ['create'],
  ['update'],
  ['toggle'],
  ['search'],
  ['due-page-1', 'due-page-200'],
  ['priority-page-1', 'priority-page-200'],
  ['changes-page'],
];

/**
 * Drives every route against the floor and the service, never both at once. After a warm-up of
 * each, they take turns in short stretches (floor, service, service, floor, …), so that anything
 * else the machine does meanwhile falls on both alike and their ratio stays fair. Results come
 * back in ROUTE_GROUPS order.
 */
export async function measureRoutes(
  context: Context,
  pair: Pair,
  overrides: Partial<Scenario>,
  labels = { floor: 'floor', service: 'service' },
): Promise<Comparison[]> {
  const paths = await deepPaths(context, pair);

  const { durationSec, warmupSec } = context.options;
  const slices = Math.max(1, Math.floor(durationSec / SLICE_SEC));
  const comparisons: Comparison[] = [];
  for (const group of ROUTE_GROUPS) {
    const routes = group.filter((route) => context.options.routes.includes(route));
    if (routes.length === 0) continue;
    // Every (route, server) of the group takes its turn in each slice, in reversed order on
    // every other slice (ABBA), so that slow drift cancels out of their ratios.
    const turns = routes.flatMap((route) =>
      (['floor', 'service'] as const).map((server) => ({
        route,
        server,
        scenario: scenarioFor(context, route, pair[server].url, {
          ...overrides,
          deepPath: paths[server],
        }),
        samples: [] as LoadSample[],
        cpuMs: 0,
        postgresMs: 0,
        machineMs: 0,
      })),
    );
    if (warmupSec > 0) {
      for (const turn of turns)
        await context.driver.run({ ...turn.scenario, durationSec: warmupSec });
    }
    for (let slice = 0; slice < slices; slice++) {
      for (const turn of slice % 2 === 0 ? turns : [...turns].reverse()) {
        const cpuBefore = cpuTimeMs(pair[turn.server].pid);
        const postgresBefore = postgresCpuMs();
        const machineBefore = machineBusyMs();
        turn.samples.push(
          await context.driver.run({ ...turn.scenario, durationSec: durationSec / slices }),
        );
        turn.cpuMs += cpuTimeMs(pair[turn.server].pid) - cpuBefore;
        turn.postgresMs += postgresCpuMs() - postgresBefore;
        turn.machineMs += machineBusyMs() - machineBefore;
      }
    }
    for (const route of routes) {
      const turn = (server: 'floor' | 'service') =>
        turns.find((candidate) => candidate.route === route && candidate.server === server)!;
      const floor = summarise(turn('floor').samples);
      const service = summarise(turn('service').samples);
      const comparison: Comparison = {
        route,
        floor,
        service,
        cpuPerRequest: {
          floor: turn('floor').cpuMs / floor.responses,
          service: turn('service').cpuMs / service.responses,
        },
        postgresCpuPerRequest: {
          floor: turn('floor').postgresMs / floor.responses,
          service: turn('service').postgresMs / service.responses,
        },
        machineCpuPerRequest: {
          floor: turn('floor').machineMs / floor.responses,
          service: turn('service').machineMs / service.responses,
        },
      };
      log(`  ${ROUTE_LABELS[route]}`);
      const cpu = (server: 'floor' | 'service'): string =>
        `, ${comparison.cpuPerRequest[server].toFixed(2)} ms CPU/req` +
        ` (PostgreSQL ${comparison.postgresCpuPerRequest?.[server].toFixed(2)},` +
        ` machine ${comparison.machineCpuPerRequest?.[server].toFixed(2)})`;
      log(`    ${describeLoad(labels.floor, floor)}${cpu('floor')}`);
      log(`    ${describeLoad(labels.service, service)}${cpu('service')}`);
      comparisons.push(comparison);
    }
  }
  return comparisons;
}

/**
 * The throughput phase: every route on the floor and the service at full load, with the
 * service's peak memory over the whole phase.
 */
export async function measureThroughput(
  context: Context,
  measurements: Measurements,
): Promise<void> {
  const { options, database } = context;
  log(
    `\nthroughput: ${options.connections} connections, ${options.durationSec} s per route and ` +
      `server after ${options.warmupSec} s of warm-up; floor and service take turns`,
  );
  const phaseStarted = performance.now();
  const pair = await startPair(options, context.jsDir, database.url, '');
  try {
    measurements.throughput = await measureRoutes(context, pair, {});
    log(`  (${seconds(phaseStarted)})`);
    measurements.peakRssMb = pair.service.memory.peakMb();
    measurements.readyRssMb = pair.service.memory.readyMb;
    log(
      `  peak RSS: service ${measurements.peakRssMb.toFixed(0)} MB ` +
        `(${measurements.readyRssMb.toFixed(0)} MB once started), ` +
        `floor ${pair.floor.memory.peakMb().toFixed(0)} MB`,
    );
  } finally {
    await pair.service.stop();
    await pair.floor.stop();
  }
  await removeBenchmarkRows(database.url);
}
