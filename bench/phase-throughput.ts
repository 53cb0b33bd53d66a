import { join } from 'node:path';
import { removeBenchmarkRows } from './database';
import {
  type Context,
  type DeepPaths,
  deepPaths,
  describeLoad,
  log,
  type Pair,
  scenarioFor,
  seconds,
  serverEnv,
  serviceCommand,
  startPair,
} from './context';
import {
  cpuTimeMs,
  freePort,
  machineBusyMs,
  postgresCpuMs,
  type ServerProcess,
  startServer,
} from './processes';
import type { Comparison, Measurements } from './report';
import {
  type LoadSample,
  ROUTE_LABELS,
  type RouteName,
  type Scenario,
  summarise,
} from './scenarios';

/** Seconds of one stretch of load; the servers take turns in such stretches. */
export const SLICE_SEC = 1;

type Server = 'floor' | 'service' | 'peer';

/** The routes the conventional peer serves: the contract's first ones, not §13's or the feed. */
const PEER_ROUTES: RouteName[] = [
  'get-one',
  'list-first',
  'big-page-1',
  'big-page-200',
  'create',
  'update',
  'toggle',
];

/**
 * The order of the turns in slice `slice`: every other slice reverses the one before (ABC CBA),
 * so that each turn's mean position, and with it any slow drift of the machine, is the same over
 * every two slices; every two slices the order also rotates by one (ABC CBA BCA ACB CAB BAC), so
 * that over six slices each server follows every other equally often. With two servers: ABBA BAAB.
 */
function sliceOrder<T>(turns: T[], slice: number): T[] {
  const shift = Math.floor(slice / 2) % turns.length;
  const rotated = [...turns.slice(shift), ...turns.slice(0, shift)];
  return slice % 2 === 0 ? rotated : rotated.reverse();
}

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
 * Drives every route against the floor and the service (and the conventional peer, when given),
 * never two at once. After a warm-up of each, they take turns in short stretches in the order of
 * `sliceOrder`, so that anything else the machine does meanwhile falls on all alike and their
 * ratios stay fair. Results come back in ROUTE_GROUPS order.
 */
/**
 * Waits until a server has finished the requests a stretch left in flight (autocannon stops
 * waiting for them, the server does not): its CPU time stops moving, or 2 s pass. Without it, a
 * slow route's tail ran during the next turn and was charged to the other server's PostgreSQL
 * and machine time, and slowed its requests.
 */
async function settled(pid: number): Promise<void> {
  const deadline = performance.now() + 2000;
  let last = cpuTimeMs(pid);
  let quiet = 0;
  while (quiet < 2 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = cpuTimeMs(pid);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

export async function measureRoutes(
  context: Context,
  pair: Pair,
  overrides: Partial<Scenario>,
  labels = { floor: 'floor', service: 'service' },
  peer?: ServerProcess,
): Promise<Comparison[]> {
  const servers: Partial<Record<Server, ServerProcess>> = { ...pair, peer };
  const paths: Partial<Record<Server, DeepPaths['floor']>> = {
    ...(await deepPaths(context, pair)),
  };
  if (peer) {
    // The same walk and the same answer checks as the floor's, with the peer in the floor's place,
    // on the routes it serves.
    log("  peer: following its Link headers and comparing its answers with the service's");
    const peerContext = {
      ...context,
      options: {
        ...context.options,
        routes: context.options.routes.filter((route) => PEER_ROUTES.includes(route)),
      },
    };
    paths.peer = (
      await deepPaths(peerContext, { service: pair.service, floor: peer }, 'peer')
    ).floor;
  }

  const { durationSec, warmupSec } = context.options;
  const slices = Math.max(1, Math.floor(durationSec / SLICE_SEC));
  const comparisons: Comparison[] = [];
  for (const group of ROUTE_GROUPS) {
    const routes = group.filter((route) => context.options.routes.includes(route));
    if (routes.length === 0) continue;
    // Every (route, server) of the group takes its turn in each slice; the peer, on its routes.
    const names: Server[] =
      peer && routes.every((route) => PEER_ROUTES.includes(route))
        ? ['floor', 'service', 'peer']
        : ['floor', 'service'];
    const turns = routes.flatMap((route) =>
      names.map((server) => ({
        route,
        server,
        pid: servers[server]!.pid,
        scenario: scenarioFor(context, route, servers[server]!.url, {
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
      for (const turn of sliceOrder(turns, slice)) {
        const cpuBefore = cpuTimeMs(turn.pid);
        const postgresBefore = postgresCpuMs();
        const machineBefore = machineBusyMs();
        turn.samples.push(
          await context.driver.run({ ...turn.scenario, durationSec: durationSec / slices }),
        );
        await settled(turn.pid);
        turn.cpuMs += cpuTimeMs(turn.pid) - cpuBefore;
        turn.postgresMs += postgresCpuMs() - postgresBefore;
        turn.machineMs += machineBusyMs() - machineBefore;
      }
    }
    for (const route of routes) {
      const turn = (server: Server) =>
        turns.find((candidate) => candidate.route === route && candidate.server === server)!;
      const results = new Map(names.map((server) => [server, summarise(turn(server).samples)]));
      const perRequest = (measure: 'cpuMs' | 'postgresMs' | 'machineMs') => {
        const [floor, service, peerValue] = names.map(
          (server) => turn(server)[measure] / results.get(server)!.responses,
        );
        return { floor, service, ...(peer ? { peer: peerValue } : {}) };
      };
      const comparison: Comparison = {
        route,
        floor: results.get('floor')!,
        service: results.get('service')!,
        ...(peer ? { peer: results.get('peer')! } : {}),
        cpuPerRequest: perRequest('cpuMs'),
        postgresCpuPerRequest: perRequest('postgresMs'),
        machineCpuPerRequest: perRequest('machineMs'),
      };
      log(`  ${ROUTE_LABELS[route]}`);
      for (const server of names) {
        log(
          `    ${describeLoad({ ...labels, peer: 'peer' }[server], results.get(server)!)}` +
            `, ${comparison.cpuPerRequest[server]?.toFixed(2)} ms CPU/req` +
            ` (PostgreSQL ${comparison.postgresCpuPerRequest?.[server]?.toFixed(2)},` +
            ` machine ${comparison.machineCpuPerRequest?.[server]?.toFixed(2)})`,
        );
      }
      comparisons.push(comparison);
    }
  }
  return comparisons;
}

/** Starts the conventional peer (bench/peer) as the service is started: same environment and flags. */
async function startPeer(context: Context): Promise<ServerProcess> {
  const port = await freePort();
  const nodeFlags = serviceCommand(context.options).slice(0, -1);
  return startServer({
    name: 'peer',
    command: [...nodeFlags, join(context.jsDir, 'peer', 'main.js')],
    env: serverEnv(context.options, context.database.url, port),
    port,
  });
}

/**
 * The throughput phase: every route on the floor, the service and (unless `--no-peer`) the
 * conventional peer at full load, with each one's peak memory over the whole phase.
 */
export async function measureThroughput(
  context: Context,
  measurements: Measurements,
): Promise<void> {
  const { options, database } = context;
  log(
    `\nthroughput: ${options.connections} connections, ${options.durationSec} s per route and ` +
      `server after ${options.warmupSec} s of warm-up; floor, service` +
      `${options.peer ? ' and conventional peer' : ''} take turns`,
  );
  const phaseStarted = performance.now();
  const pair = await startPair(options, context.jsDir, database.url, '');
  let peer: ServerProcess | undefined;
  try {
    if (options.peer) peer = await startPeer(context);
    measurements.throughput = await measureRoutes(context, pair, {}, undefined, peer);
    log(`  (${seconds(phaseStarted)})`);
    measurements.peakRssMb = pair.service.memory.peakMb();
    measurements.readyRssMb = pair.service.memory.readyMb;
    if (peer) measurements.peerPeakRssMb = peer.memory.peakMb();
    log(
      `  peak RSS: service ${measurements.peakRssMb.toFixed(0)} MB ` +
        `(${measurements.readyRssMb.toFixed(0)} MB once started), ` +
        `floor ${pair.floor.memory.peakMb().toFixed(0)} MB` +
        (peer ? `, peer ${peer.memory.peakMb().toFixed(0)} MB` : ''),
    );
  } finally {
    await peer?.stop();
    await pair.service.stop();
    await pair.floor.stop();
  }
  await removeBenchmarkRows(database.url);
}
