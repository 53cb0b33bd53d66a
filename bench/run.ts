import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import {
  BenchDatabase,
  BIG_USER,
  ensureSeed,
  openBenchDatabase,
  removeBenchmarkRows,
  sampleTasks,
  SeedPlan,
  serverVersion,
  totalTasks,
  userId,
} from './database';
import { LatencyProxy, startLatencyProxy } from './latency-proxy';
import {
  compileChildren,
  cpuTimeMs,
  Driver,
  ensureBuilt,
  freePort,
  ServerProcess,
  startServer,
  WORK_DIR,
} from './processes';
import { formatProfile, ProfileSummary, ProfileWindow, summariseProfile } from './profile-summary';
import {
  Comparison,
  comparisonRows,
  evaluateTargets,
  Machine,
  markdownTable,
  Measurements,
  repositoryRows,
  RoundTrips,
  RunSettings,
  Section,
  targetRows,
  textTable,
  writeResults,
} from './report';
import { RepositoryTiming, timeRepository } from './repository-timing';
import {
  LoadResult,
  LoadSample,
  ROUTE_LABELS,
  RouteName,
  ROUTES,
  Scenario,
  summarise,
} from './scenarios';
import { signToken } from './tokens';

const USAGE = `npm run bench -- [options]

  --quick              100,000 seeded tasks (800 users × 100, one user with 20,000),
                       5 s per route (the full seed: 10,000 × 100 and one user with 100,000)
  --duration S         seconds of measured load per route and server (10; --quick 5)
  --warmup S           seconds of unmeasured load before each (2; --quick 1)
  --connections N      concurrent connections (32)
  --pool N             DATABASE_POOL_MAX of service and floor (10)
  --log-level L        LOG_LEVEL of the service (info)
  --rtt MS             also measure through a proxy adding MS of round trip to PostgreSQL
  --rtt-connections N  connections for --rtt (4)
  --profile            also CPU-profile the floor and the service under the get-one load
  --profile-route R    profile under another route's load instead
  --repo-calls N       calls per repository operation and size (10,000)
  --lever "K=V …"      only compare the service with a copy of itself whose environment
                       differs by K=V (e.g. "LOG_LEVEL=warn" or
                       "NODE_OPTIONS=--max-semi-space-size=4"), taking turns; no floor
  --baseline-dist DIR  with or without --lever: the baseline runs another build's dist/
                       (e.g. of an earlier commit), the variant runs ./dist or
  --variant-dist DIR   another build's dist/
  --only LIST          phases: repository,throughput,roundtrips,rtt,profile,lever
  --routes LIST        routes: ${ROUTES.join(',')}
  --node-options=F     extra node flags for the service, space-separated; the = is needed
                       because they start with a dash: --node-options=--max-semi-space-size=8
  --durable            keep fsync and synchronous_commit on in the embedded PostgreSQL
  --no-results         do not rewrite bench/RESULTS.md

BENCH_DATABASE_URL uses that database instead of the embedded one under bench/.work/pg.`;

const PHASES = ['repository', 'throughput', 'roundtrips', 'rtt', 'profile', 'lever'] as const;
type Phase = (typeof PHASES)[number];

// Any 32+ character secret: both servers check tokens with it, the driver signs with it.
const SECRET = 'benchmark-only-secret-with-more-than-32-characters';
const RESULTS_FILE = resolve('bench/RESULTS.md');

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const seconds = (from: number): string => `${((performance.now() - from) / 1000).toFixed(1)} s`;

/** `--lever "KEY=VALUE KEY2=VALUE2"`: the environment the variant of the service differs by. */
function parseLever(value: string | undefined): Record<string, string> | null {
  if (value === undefined) return null;
  const entries = value
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--lever: "${pair}" is not KEY=VALUE`);
      return [pair.slice(0, at), pair.slice(at + 1)] as const;
    });
  if (entries.length === 0) throw new Error('--lever needs at least one KEY=VALUE');
  return Object.fromEntries(entries);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string', default: '32' },
      pool: { type: 'string', default: '10' },
      'log-level': { type: 'string', default: 'info' },
      rtt: { type: 'string' },
      'rtt-connections': { type: 'string', default: '4' },
      profile: { type: 'boolean', default: false },
      'profile-route': { type: 'string', default: 'get-one' },
      'repo-calls': { type: 'string', default: '10000' },
      only: { type: 'string' },
      routes: { type: 'string' },
      durable: { type: 'boolean', default: false },
      'no-results': { type: 'boolean', default: false },
      'node-options': { type: 'string', default: '' },
      lever: { type: 'string' },
      'baseline-dist': { type: 'string' },
      'variant-dist': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    log(USAGE);
    process.exit(0);
  }
  const number = (name: string, value: string | undefined, fallback: number): number => {
    const parsed = value === undefined ? fallback : Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a number`);
    return parsed;
  };
  const list = <T extends string>(name: string, value: string | undefined, all: readonly T[]) => {
    if (value === undefined) return undefined;
    const items = value.split(',').map((item) => item.trim()) as T[];
    const unknown = items.filter((item) => !all.includes(item));
    if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')}`);
    return items;
  };
  const rttMs = values.rtt === undefined ? null : number('rtt', values.rtt, 10);
  const lever = parseLever(values.lever);
  const distOption = (name: 'baseline-dist' | 'variant-dist'): string | null => {
    const value = values[name];
    if (value === undefined) return null;
    if (!existsSync(join(resolve(value), 'src/main.js'))) {
      throw new Error(`--${name}: no src/main.js under ${value}`);
    }
    return resolve(value);
  };
  const baselineDist = distOption('baseline-dist');
  const variantDist = distOption('variant-dist');
  const phases: Phase[] = list('only', values.only, PHASES) ??
    (lever || baselineDist || variantDist ? ['lever'] : null) ?? [
      'repository',
      'throughput',
      'roundtrips',
      ...(rttMs !== null ? (['rtt'] as Phase[]) : []),
      ...(values.profile ? (['profile'] as Phase[]) : []),
    ];
  const quick = values.quick;
  const plan: SeedPlan = quick
    ? { users: 800, perUser: 100, bigUserTasks: 20_000 }
    : { users: 10_000, perUser: 100, bigUserTasks: 100_000 };
  return {
    quick,
    plan,
    // Whole seconds: autocannon rounds a fractional duration up to the next second.
    durationSec: Math.max(1, Math.round(number('duration', values.duration, quick ? 5 : 10))),
    warmupSec: Math.round(number('warmup', values.warmup, quick ? 1 : 2)),
    connections: number('connections', values.connections, 32),
    poolMax: number('pool', values.pool, 10),
    logLevel: values['log-level'],
    rttMs: rttMs ?? 0,
    rttConnections: number('rtt-connections', values['rtt-connections'], 4),
    repoCalls: number('repo-calls', values['repo-calls'], 10_000),
    phases: new Set(phases),
    routes: list('routes', values.routes, ROUTES) ?? [...ROUTES],
    durable: values.durable,
    writeResults: !values['no-results'],
    profileRoute: (list('profile-route', values['profile-route'], ROUTES) ?? ['get-one'])[0],
    nodeOptions: values['node-options'].split(' ').filter(Boolean),
    lever,
    baselineDist,
    variantDist,
  };
}
type Options = ReturnType<typeof parseOptions>;

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

/** The environment both servers get: same database, secret and pool size. */
function serverEnv(options: Options, databaseUrl: string, port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: String(options.poolMax),
    DB_MIGRATIONS_RUN: 'false',
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: options.logLevel,
    SHUTDOWN_GRACE_MS: '0',
  };
}

async function startPair(
  options: Options,
  jsDir: string,
  databaseUrl: string,
  suffix: string,
): Promise<{ service: ServerProcess; floor: ServerProcess }> {
  const floorPort = await freePort();
  const floor = await startServer({
    name: `floor${suffix}`,
    command: [join(jsDir, 'floor.js')],
    env: serverEnv(options, databaseUrl, floorPort),
    port: floorPort,
  });
  try {
    const servicePort = await freePort();
    const service = await startServer({
      name: `service${suffix}`,
      command: [...options.nodeOptions, 'dist/src/main.js'],
      env: serverEnv(options, databaseUrl, servicePort),
      port: servicePort,
    });
    return { service, floor };
  } catch (error) {
    await floor.stop();
    throw error;
  }
}

const NEXT_LINK = /<([^>]+)>\s*;\s*rel="?next"?/;

/** Follows a server's Link headers from the big user's first page to page `page`. */
async function deepPath(server: ServerProcess, token: string, page: number): Promise<string> {
  let path = `/api/${BIG_USER}/tasks?limit=50`;
  for (let at = 1; at < page; at++) {
    const response = await fetch(new URL(path, server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    const link = NEXT_LINK.exec(response.headers.get('link') ?? '');
    await response.arrayBuffer();
    if (response.status !== 200 || !link) {
      throw new Error(
        `${server.name}: page ${at} of the big user's list answered ${response.status} ` +
          `${link ? '' : 'without a next link'}`,
      );
    }
    const next = new URL(link[1], server.url);
    path = `${next.pathname}${next.search}`;
  }
  return path;
}

/** Checks that the service and the floor give the same answer, so they do the same work. */
async function compareAnswers(
  pair: { service: ServerProcess; floor: ServerProcess },
  paths: Record<string, string>,
  token: (user: string) => string,
  [owner, taskId]: [string, string],
): Promise<void> {
  const get = async (server: ServerProcess, path: string, user: string): Promise<unknown> => {
    const response = await fetch(new URL(path, server.url), {
      headers: { authorization: `Bearer ${token(user)}` },
    });
    if (response.status !== 200) throw new Error(`${server.name} ${path}: ${response.status}`);
    return response.json();
  };
  const describe = (body: unknown): string => {
    const first = (Array.isArray(body) ? body[0] : body) as Record<string, unknown> | undefined;
    return JSON.stringify({
      keys: Object.keys(first ?? {}).sort(),
      id: first?.id,
      length: Array.isArray(body) ? body.length : undefined,
    });
  };
  const checks: [string, string, string, string][] = [
    ['get one', `/api/${owner}/tasks/${taskId}`, `/api/${owner}/tasks/${taskId}`, owner],
    ['page 200', paths.service, paths.floor, BIG_USER],
  ];
  for (const [what, servicePath, floorPath, user] of checks) {
    const service = describe(await get(pair.service, servicePath, user));
    const floor = describe(await get(pair.floor, floorPath, user));
    if (service !== floor) {
      log(`  WARNING: ${what} differs between service ${service} and floor ${floor}`);
    }
  }
}

interface Context {
  options: Options;
  jsDir: string;
  database: BenchDatabase;
  driver: Driver;
  pairs: [string, string][];
  users: string[];
}

type Pair = { service: ServerProcess; floor: ServerProcess };
const deepPathCache = new WeakMap<Pair, { service: string; floor: string }>();

/**
 * Page 200 of the big user's list on each server of a pair, found once per pair by walking its
 * Link headers; the first time, the two servers' answers are also compared.
 */
async function deepPaths(
  context: Context,
  pair: Pair,
): Promise<{ service: string; floor: string }> {
  const cached = deepPathCache.get(pair);
  if (cached) return cached;
  const token = (user: string): string => signToken(SECRET, user);
  const needsDeep = context.options.routes.includes('big-page-200');
  const paths = needsDeep
    ? {
        service: await deepPath(pair.service, token(BIG_USER), 200),
        floor: await deepPath(pair.floor, token(BIG_USER), 200),
      }
    : { service: '', floor: '' };
  if (needsDeep) await compareAnswers(pair, paths, token, context.pairs[0]);
  deepPathCache.set(pair, paths);
  return paths;
}

const scenarioFor = (
  context: Context,
  route: RouteName,
  baseUrl: string,
  overrides: Partial<Scenario>,
): Scenario => ({
  route,
  baseUrl,
  connections: context.options.connections,
  durationSec: context.options.durationSec,
  secret: SECRET,
  pairs: context.pairs,
  users: context.users,
  bigUser: BIG_USER,
  ...overrides,
});

const describeLoad = (name: string, result: LoadResult): string =>
  `${name.padEnd(8)} ${Math.round(result.requestsPerSec).toString().padStart(6)} req/s  ` +
  `p50 ${result.p50.toFixed(2)}  p95 ${result.p95.toFixed(2)}  p99 ${result.p99.toFixed(2)} ms` +
  (result.non2xx > 0 ? `  (${result.non2xx} non-2xx: ${JSON.stringify(result.statuses)})` : '');

/** Seconds of one stretch of load; the floor and the service take turns in such stretches. */
const SLICE_SEC = 1;

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
];

/**
 * Drives every route against the floor and the service, never both at once. After a warm-up of
 * each, they take turns in short stretches (floor, service, service, floor, …), so that anything
 * else the machine does meanwhile falls on both alike and their ratio stays fair. Results come
 * back in ROUTE_GROUPS order.
 */
async function measureRoutes(
  context: Context,
  pair: { service: ServerProcess; floor: ServerProcess },
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
      })),
    );
    if (warmupSec > 0) {
      for (const turn of turns)
        await context.driver.run({ ...turn.scenario, durationSec: warmupSec });
    }
    for (let slice = 0; slice < slices; slice++) {
      for (const turn of slice % 2 === 0 ? turns : [...turns].reverse()) {
        const cpuBefore = cpuTimeMs(pair[turn.server].pid);
        turn.samples.push(
          await context.driver.run({ ...turn.scenario, durationSec: durationSec / slices }),
        );
        turn.cpuMs += cpuTimeMs(pair[turn.server].pid) - cpuBefore;
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
      };
      log(`  ${ROUTE_LABELS[route]}`);
      const cpu = (value: number): string => `, ${value.toFixed(2)} ms CPU/req`;
      log(`    ${describeLoad(labels.floor, floor)}${cpu(comparison.cpuPerRequest.floor)}`);
      log(`    ${describeLoad(labels.service, service)}${cpu(comparison.cpuPerRequest.service)}`);
      comparisons.push(comparison);
    }
  }
  return comparisons;
}

/** Statements each server sends per request, counted by the proxy on the PostgreSQL wire. */
async function countRoundTrips(
  context: Context,
  pair: { service: ServerProcess; floor: ServerProcess },
  proxy: LatencyProxy,
): Promise<RoundTrips[]> {
  const paths = await deepPaths(context, pair);
  const count = async (server: ServerProcess, route: RouteName, path: string): Promise<number> => {
    const scenario = scenarioFor(context, route, server.url, { connections: 4, deepPath: path });
    // Warm the pool first, so that opening connections is not counted.
    await context.driver.run({ ...scenario, amount: 20 });
    proxy.resetRoundTrips();
    const result = summarise([await context.driver.run({ ...scenario, amount: 200 })]);
    const statements = proxy.roundTrips();
    if (result.non2xx > 0) log(`    ${server.name} ${route}: ${JSON.stringify(result.statuses)}`);
    return statements / result.responses;
  };
  const trips: RoundTrips[] = [];
  for (const route of context.options.routes) {
    const floor = await count(pair.floor, route, paths.floor);
    const service = await count(pair.service, route, paths.service);
    log(
      `  ${ROUTE_LABELS[route].padEnd(30)} service ${service.toFixed(2)}, floor ${floor.toFixed(2)}`,
    );
    trips.push({ route, service, floor });
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
      ? [...context.options.nodeOptions, '--cpu-prof', `--cpu-prof-dir=${dir}`, 'dist/src/main.js']
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

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const phases = options.phases;
  const needsServers = ['throughput', 'roundtrips', 'rtt', 'profile', 'lever'].some((phase) =>
    phases.has(phase as Phase),
  );
  log(
    `tasks service benchmark (${options.quick ? '--quick' : 'full'}): ` +
      `${[...phases].join(', ')}`,
  );
  if (needsServers) ensureBuilt(log);
  const jsDir = compileChildren();

  const database = await openBenchDatabase({
    // The quick and the full seed live side by side, so that switching does not reseed.
    name: options.quick ? 'tasks_bench_quick' : 'tasks_bench',
    durable: options.durable,
    log,
  });
  const driver = new Driver(jsDir);
  const proxies: LatencyProxy[] = [];
  const running: ServerProcess[] = [];
  const measurements: Measurements = { connections: options.connections };
  const sections: Partial<Record<Section, string>> = {};
  try {
    const postgres = await serverVersion(database.url);
    const seedStarted = performance.now();
    const seeded = await ensureSeed(database.url, options.plan);
    const total = totalTasks(options.plan).toLocaleString('en-US');
    log(
      seeded === null
        ? `reusing the seeded database: ${total} tasks already there`
        : `seeded ${total} tasks in ${(seeded / 1000).toFixed(1)} s`,
    );
    const smallPlan: SeedPlan = { users: 100, perUser: 100, bigUserTasks: 0 };
    if (phases.has('repository') && database.smallUrl) {
      const small = await ensureSeed(database.smallUrl, smallPlan);
      log(small === null ? 'reusing the 10,000-task database' : 'seeded the 10,000-task database');
    }
    log(`database ready in ${seconds(seedStarted)}`);

    const context: Context = {
      options,
      jsDir,
      database,
      driver,
      pairs: await sampleTasks(database.url, options.plan, 2_000, 2),
      users: Array.from({ length: options.plan.users }, (_, i) => userId(i + 1)),
    };
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

    if (phases.has('repository')) {
      log('\nrepository, in process, one call at a time:');
      const sized = [
        ...(database.smallUrl ? [{ url: database.smallUrl, plan: smallPlan }] : []),
        { url: database.url, plan: options.plan },
      ];
      const phaseStarted = performance.now();
      const timings: RepositoryTiming[] = await timeRepository(sized, options.repoCalls, log);
      log(`  (${seconds(phaseStarted)})`);
      measurements.repository = timings;
      for (const { url } of sized) await removeBenchmarkRows(url);
      const table = repositoryRows(timings);
      sections.repository = [
        `Measured ${new Date().toISOString()} (${settings.mode}): \`TypeOrmTasksRepository\` on a`,
        `\`TasksDataSource\`, in the benchmark's own process, ${options.repoCalls.toLocaleString('en-US')} sequential calls per`,
        'operation and size after a warm-up; random owners and tasks.',
        '',
        markdownTable(table.headers, table.rows, ['l']),
      ].join('\n');
    }

    if (phases.has('throughput')) {
      log(
        `\nthroughput: ${options.connections} connections, ${options.durationSec} s per route and ` +
          `server after ${options.warmupSec} s of warm-up; floor and service take turns`,
      );
      const phaseStarted = performance.now();
      const pair = await startPair(options, jsDir, database.url, '');
      running.push(pair.floor, pair.service);
      measurements.throughput = await measureRoutes(context, pair, {});
      log(`  (${seconds(phaseStarted)})`);
      measurements.peakRssMb = pair.service.memory.peakMb();
      measurements.readyRssMb = pair.service.memory.readyMb;
      log(
        `  peak RSS: service ${measurements.peakRssMb.toFixed(0)} MB ` +
          `(${measurements.readyRssMb.toFixed(0)} MB once started), ` +
          `floor ${pair.floor.memory.peakMb().toFixed(0)} MB`,
      );
      await pair.service.stop();
      await pair.floor.stop();
      running.length = 0;
      await removeBenchmarkRows(database.url);
    }

    if (phases.has('roundtrips') || phases.has('rtt')) {
      const phaseStarted = performance.now();
      const rtt = phases.has('rtt') ? options.rttMs : 0;
      const proxy = await startLatencyProxy({
        targetHost: database.host,
        targetPort: database.port,
        rttMs: rtt,
      });
      proxies.push(proxy);
      const proxied = new URL(database.url);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      const pair = await startPair(options, jsDir, proxied.toString(), '-proxied');
      running.push(pair.floor, pair.service);
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
        sections.rtt = [
          `Measured ${new Date().toISOString()} (${settings.mode}): a TCP proxy (bench/latency-proxy.ts)`,
          `adds ${rtt} ms of round trip between each server and PostgreSQL (effective: ${effectiveMs.toFixed(2)} ms,`,
          `the median \`SELECT 1\` through it); ${options.rttConnections} connections, so no request waits for`,
          `one of the ${options.poolMax} pooled connections. One round trip per request means p95 ≈ RTT.`,
          '',
          markdownTable(table.headers, table.rows, ['l']),
        ].join('\n');
      }
      await pair.service.stop();
      await pair.floor.stop();
      running.length = 0;
      await removeBenchmarkRows(database.url);
      log(`  (${seconds(phaseStarted)})`);
    }

    if (phases.has('lever') && (options.lever || options.baselineDist || options.variantDist)) {
      const lever = [
        ...(options.baselineDist || options.variantDist
          ? [
              `the build in ${options.variantDist ?? 'dist'} instead of ${options.baselineDist ?? 'dist'}`,
            ]
          : []),
        ...Object.entries(options.lever ?? {}).map(([key, value]) => `${key}=${value}`),
      ].join(' and ');
      log(
        `\nlever ${lever}: the service as configured (baseline) and with ${lever} (variant) take ` +
          `turns, ${options.connections} connections`,
      );
      const baselinePort = await freePort();
      const baseline = await startServer({
        name: 'service-baseline',
        command: [
          ...options.nodeOptions,
          options.baselineDist ? join(options.baselineDist, 'src/main.js') : 'dist/src/main.js',
        ],
        env: serverEnv(options, database.url, baselinePort),
        port: baselinePort,
      });
      running.push(baseline);
      const variantPort = await freePort();
      const variant = await startServer({
        name: 'service-variant',
        command: [
          ...options.nodeOptions,
          options.variantDist ? join(options.variantDist, 'src/main.js') : 'dist/src/main.js',
        ],
        env: { ...serverEnv(options, database.url, variantPort), ...options.lever },
        port: variantPort,
      });
      running.push(variant);
      const comparisons = await measureRoutes(
        context,
        { floor: baseline, service: variant },
        {},
        { floor: 'baseline', service: 'variant' },
      );
      const change = (after: number, before: number): string =>
        `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(0)} %`;
      log(`\nlever ${lever}:`);
      log(
        textTable(
          [
            'route',
            'baseline req/s',
            'p95 ms',
            'CPU ms/req',
            'variant req/s',
            'p95 ms',
            'CPU ms/req',
            'req/s',
            'CPU/req',
          ],
          comparisons.map((c) => [
            ROUTE_LABELS[c.route],
            Math.round(c.floor.requestsPerSec).toString(),
            c.floor.p95.toFixed(2),
            c.cpuPerRequest.floor.toFixed(2),
            Math.round(c.service.requestsPerSec).toString(),
            c.service.p95.toFixed(2),
            c.cpuPerRequest.service.toFixed(2),
            change(c.service.requestsPerSec, c.floor.requestsPerSec),
            change(c.cpuPerRequest.service, c.cpuPerRequest.floor),
          ]),
        ),
      );
      log(
        `peak RSS: baseline ${baseline.memory.peakMb().toFixed(0)} MB ` +
          `(${baseline.memory.readyMb.toFixed(0)} once started), variant ` +
          `${variant.memory.peakMb().toFixed(0)} MB (${variant.memory.readyMb.toFixed(0)} once started)`,
      );
      await variant.stop();
      await baseline.stop();
      running.length = 0;
      await removeBenchmarkRows(database.url);
    }

    if (phases.has('profile')) {
      log(
        `\nCPU profiles of the floor and the service under the "${ROUTE_LABELS[options.profileRoute]}" load (${options.connections} connections):`,
      );
      const floor = await profileServer(context, 'floor', database.url);
      const service = await profileServer(context, 'service', database.url);
      const perRequest = (profiled: Profiled): string =>
        (profiled.summary.busyMs / profiled.result.responses).toFixed(2);
      const profile = [
        `Measured ${new Date().toISOString()} (${settings.mode}): \`node --cpu-prof\` on the floor, then on`,
        `the service (LOG_LEVEL=${options.logLevel}), each answering "${ROUTE_LABELS[options.profileRoute]}" at ${options.connections} connections for`,
        `${options.durationSec} s after a warm-up; only the samples of the measured load are counted.`,
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
      sections.profile = profile;
      log(profile);
    }

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
        `Measured ${details.date} (${settings.mode} run, \`npm run bench${options.quick ? ' -- --quick' : ''}\`), commit ${details.commit}.`,
        '',
        `- Machine: ${details.cpu}, ${details.cores} cores, ${details.memoryGiB} GiB; ${details.os}`,
        `- Node ${details.node}, PostgreSQL ${details.postgres} (${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : `embedded, ${options.durable ? 'durable' : 'fsync and synchronous_commit off'}`})`,
        `- Seed: ${settings.seed}`,
        `- Load: autocannon in its own process, ${settings.connections} connections, ${settings.durationSec} s per route and server after ${settings.warmupSec} s of warm-up each; floor and service take turns in stretches of about ${SLICE_SEC} s (ABBA order), never loaded at once`,
        `- Service: \`node ${options.nodeOptions.map((flag) => `${flag} `).join('')}dist/src/main.js\`, NODE_ENV=production, LOG_LEVEL=${settings.logLevel} (logs to a file), DATABASE_POOL_MAX=${settings.poolMax}; the floor has the same pool size`,
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
    if (options.writeResults && Object.keys(sections).length > 0) {
      await writeResults(RESULTS_FILE, sections);
      log(`wrote ${Object.keys(sections).join(', ')} into bench/RESULTS.md`);
    }
  } finally {
    for (const server of running) await server.stop().catch(() => undefined);
    for (const proxy of proxies) await proxy.close();
    driver.close();
    await removeBenchmarkRows(database.url).catch(() => undefined);
    await database.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
