import { Client } from 'pg';
import {
  type Context,
  deepPaths,
  log,
  type Pair,
  scenarioFor,
  seconds,
  startPair,
} from './context';
import { removeBenchmarkRows } from './database';
import { type LatencyProxy, startLatencyProxy } from './latency-proxy';
import { compareStatements } from './parity';
import { comparisonRows, markdownTable, type Measurements, type RoundTrips } from './report';
import { measureRoutes } from './phase-throughput';
import type { ServerProcess } from './processes';
import { ROUTE_LABELS, type RouteName, type Scenario, summarise } from './scenarios';

/**
 * Statements each server sends per request, counted by the proxy on the PostgreSQL wire; and a
 * warning for each route where the floor's SQL is not the service's.
 */
async function countRoundTrips(
  context: Context,
  pair: Pair,
  proxy: LatencyProxy,
): Promise<RoundTrips[]> {
  const paths = await deepPaths(context, pair);
  // The service's jobs (the reminder claim each second, the purges) pass the same proxy; it
  // leaves their statements out by the comment that opens each (src/database/periodic-job.ts).
  const count = async (server: ServerProcess, route: RouteName, path: Scenario['deepPath']) => {
    const scenario = scenarioFor(context, route, server.url, { connections: 4, deepPath: path });
    // Warm the pool first, so that opening connections is not counted.
    await context.driver.run({ ...scenario, amount: 20 });
    proxy.resetRoundTrips();
    const result = summarise([await context.driver.run({ ...scenario, amount: 200 })]);
    const statements = proxy.sentStatements();
    const perRequest = proxy.roundTrips() / result.responses;
    if (result.non2xx > 0) log(`    ${server.name} ${route}: ${JSON.stringify(result.statuses)}`);
    return { perRequest, sent: { statements, requests: result.responses } };
  };
  const trips: RoundTrips[] = [];
  for (const route of context.options.routes) {
    const floor = await count(pair.floor, route, paths.floor);
    const service = await count(pair.service, route, paths.service);
    log(
      `  ${ROUTE_LABELS[route].padEnd(30)} service ${service.perRequest.toFixed(2)}, floor ${floor.perRequest.toFixed(2)}`,
    );
    compareStatements(ROUTE_LABELS[route], service.sent, floor.sent);
    trips.push({ route, service: service.perRequest, floor: floor.perRequest });
  }
  return trips;
}

/** The round trip the proxy actually adds: `SELECT 1` through it, median of 50. */
async function effectiveRtt(databaseUrl: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      await client.query('SELECT 1');
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  } finally {
    await client.end();
  }
}

/**
 * The round-trip phases, through a TCP proxy between the servers and PostgreSQL: statements per
 * request counted on the wire (`roundtrips`), and every route with a round trip added to each
 * statement (`rtt`). Returns the RESULTS.md section of the latter.
 */
export async function measureRoundTrips(
  context: Context,
  measurements: Measurements,
): Promise<string | undefined> {
  const { options, database } = context;
  const phases = options.phases;
  const phaseStarted = performance.now();
  const rtt = phases.has('rtt') ? options.rttMs : 0;
  const proxy = await startLatencyProxy({
    targetHost: database.host,
    targetPort: database.port,
    rttMs: rtt,
  });
  const proxied = new URL(database.url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  let section: string | undefined;
  try {
    const pair = await startPair(options, context.jsDir, proxied.toString(), '-proxied');
    try {
      if (phases.has('roundtrips')) {
        log('\ndatabase round trips per request (statements counted on the PostgreSQL wire):');
        measurements.roundTrips = await countRoundTrips(context, pair, proxy);
      }
      if (phases.has('rtt')) {
        const effectiveMs = await effectiveRtt(proxied.toString());
        log(
          `\n--rtt ${rtt}: ${options.rttConnections} connections through the latency proxy ` +
            `(effective RTT ${effectiveMs.toFixed(2)} ms: SELECT 1 through it, median)`,
        );
        const comparisons = await measureRoutes(context, pair, {
          connections: options.rttConnections,
        });
        measurements.rtt = {
          rttMs: rtt,
          effectiveMs,
          connections: options.rttConnections,
          comparisons,
        };
        const table = comparisonRows(comparisons);
        section = [
          `Measured ${new Date().toISOString()} (${context.settings.mode}): a TCP proxy (bench/latency-proxy.ts)`,
          `adds ${rtt} ms of round trip between each server and PostgreSQL (effective: ${effectiveMs.toFixed(2)} ms,`,
          `the median \`SELECT 1\` through it); ${options.rttConnections} connections, so no request waits for`,
          `one of the ${options.poolMax} pooled connections. One round trip per request means p95 ≈ RTT.`,
          '',
          markdownTable(table.headers, table.rows, ['l']),
        ].join('\n');
      }
    } finally {
      await pair.service.stop();
      await pair.floor.stop();
    }
  } finally {
    await proxy.close();
  }
  await removeBenchmarkRows(database.url);
  log(`  (${seconds(phaseStarted)})`);
  return section;
}
