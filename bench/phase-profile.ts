import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  type Context,
  deepPaths,
  describeLoad,
  log,
  scenarioFor,
  serverEnv,
  serviceCommand,
} from './context';
import {
  formatProfile,
  type ProfileSummary,
  type ProfileWindow,
  summariseProfile,
} from './profile-summary';
import { freePort, startServer, WORK_DIR } from './processes';
import { markdownTable } from './report';
import { type LoadResult, ROUTE_LABELS, summarise } from './scenarios';

interface Profiled {
  summary: ProfileSummary;
  result: LoadResult;
  file: string;
}

/**
 * Runs one server under `node --cpu-prof` through a warm-up and then the get-one load, and
 * summarises the samples taken during the measured load only (start-up and warm-up cut out).
 */
async function profileServer(
  context: Context,
  name: 'service' | 'floor',
  databaseUrl: string,
): Promise<Profiled> {
  const dir = join(WORK_DIR, 'profile', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const entry =
    name === 'service'
      ? serviceCommand(context.options, 'dist', ['--cpu-prof', `--cpu-prof-dir=${dir}`])
      : ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(context.jsDir, 'floor.js')];
  const spawned = performance.now();
  const server = await startServer({
    name: `${name}-profile`,
    command: entry,
    env: serverEnv(context.options, databaseUrl, port),
    port,
  });
  let window: ProfileWindow;
  let result: LoadResult;
  try {
    const route = context.options.profileRoute;
    const paths =
      route === 'big-page-200'
        ? await deepPaths(context, { service: server, floor: server })
        : null;
    const scenario = scenarioFor(context, route, server.url, { deepPath: paths?.service });
    await context.driver.run({ ...scenario, durationSec: context.options.warmupSec });
    const from = performance.now() - spawned;
    result = summarise([await context.driver.run(scenario)]);
    window = { fromMs: from, toMs: performance.now() - spawned };
    log(`  ${describeLoad(name, result)} (profiled)`);
  } finally {
    await server.stop();
  }
  const file = readdirSync(dir).find((candidate) => candidate.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the ${name} wrote no CPU profile into ${dir}`);
  return {
    summary: summariseProfile(join(dir, file), 15, window),
    result,
    file: relative('.', join(dir, file)),
  };
}

/**
 * CPU profiles of the floor and then the service, each in a fresh process under one route's load
 * (`--profile-route`). Returns the RESULTS.md section: where each spends its time per request.
 */
export async function profileServers(context: Context): Promise<string> {
  log(
    `\nCPU profiles of the floor and the service under the "${ROUTE_LABELS[context.options.profileRoute]}" load (${context.options.connections} connections):`,
  );
  const floor = await profileServer(context, 'floor', context.database.url);
  const service = await profileServer(context, 'service', context.database.url);
  const perRequest = (profiled: Profiled): string =>
    (profiled.summary.busyMs / profiled.result.responses).toFixed(2);
  const profile = [
    `Measured ${new Date().toISOString()} (${context.settings.mode}): \`node --cpu-prof\` on the floor, then on`,
    `the service (LOG_LEVEL=${context.options.logLevel}), each answering "${ROUTE_LABELS[context.options.profileRoute]}" at ${context.options.connections} connections for`,
    `${context.options.durationSec} s after a warm-up; only the samples of the measured load are counted.`,
    `Summarised by bench/profile-summary.ts from ${service.file} and ${floor.file}.`,
    '',
    `Busy CPU per request on the server's main thread: **service ${perRequest(service)} ms, floor ${perRequest(floor)} ms**`,
    `(service ${Math.round(service.result.requestsPerSec)} req/s, floor ${Math.round(floor.result.requestsPerSec)} req/s while profiled).`,
    '',
    markdownTable(
      ['per request, main thread', 'service ms', 'floor ms'],
      [
        ['busy', perRequest(service), perRequest(floor)],
        ...[
          ...new Set(
            [...service.summary.socketWrites, ...floor.summary.socketWrites].map((e) => e.name),
          ),
        ].map((name) => [
          `sending ${name}`,
          ...[service, floor].map((profiled) =>
            (
              (profiled.summary.socketWrites.find((entry) => entry.name === name)?.ms ?? 0) /
              profiled.result.responses
            ).toFixed(3),
          ),
        ]),
      ],
      ['l'],
    ),
    '',
    '### The service',
    '',
    formatProfile(service.summary),
    '',
    '### The floor',
    '',
    formatProfile(floor.summary, 'short'),
  ].join('\n');
  log(profile);
  return profile;
}
