import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIG_USER, type BenchDatabase } from './database';
import type { Options } from './options';
import { compareAnswers } from './parity';
import { Driver, freePort, ServerProcess, startServer } from './processes';
import type { RunSettings } from './report';
import {
  BIG_USER_PAGES,
  DEEP_ROUTES,
  type LoadResult,
  type RouteName,
  type Scenario,
} from './scenarios';
import { signToken } from './tokens';

/* What every phase of a run shares: the servers' environment and start, the load's scenarios. */

// Any 32+ character secret: both servers check tokens with it, the driver signs with it.
export const SECRET = 'benchmark-only-secret-with-more-than-32-characters';
export const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
export const seconds = (from: number): string =>
  `${((performance.now() - from) / 1000).toFixed(1)} s`;

/** The machine's load average over 1, 5 and 15 minutes: others' work shares the CPU. */
export const loadAverage = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');

/**
 * How the service is started: as `npm run start:prod` (and the image's CMD) starts it, with its
 * Node flags (heap sizing), then the run's own `--node-options`, then `dist` (or another
 * build's) entry point.
 */
export function serviceCommand(options: Options, dist = 'dist', extra: string[] = []): string[] {
  const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as {
    scripts: Record<string, string>;
  };
  const productionFlags = packageJson.scripts['start:prod']
    .split(/\s+/)
    .filter((word) => word.startsWith('--'));
  return [...productionFlags, ...options.nodeOptions, ...extra, join(dist, 'src/main.js')];
}

/** The service and the floor, or two variants of the service (`--lever`). */
export type Pair = { service: ServerProcess; floor: ServerProcess };

/** The environment both servers get: same database, secret and pool size. */
export function serverEnv(
  options: Options,
  databaseUrl: string,
  port: number,
): Record<string, string> {
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

export async function startPair(
  options: Options,
  jsDir: string,
  databaseUrl: string,
  suffix: string,
): Promise<Pair> {
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
      command: serviceCommand(options),
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

/** Follows a server's Link headers from one of the big user's first pages to page `page`. */
async function deepPath(
  server: ServerProcess,
  token: string,
  route: RouteName,
  page: number,
): Promise<string> {
  let path = `/api/${BIG_USER}/tasks${BIG_USER_PAGES[route]}`;
  for (let at = 1; at < page; at++) {
    const response = await fetch(new URL(path, server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    const link = NEXT_LINK.exec(response.headers.get('link') ?? '');
    await response.arrayBuffer();
    if (response.status !== 200 || !link) {
      throw new Error(
        `${server.name}: page ${at} of ${route} answered ${response.status} ` +
          `${link ? '' : 'without a next link'}`,
      );
    }
    const next = new URL(link[1], server.url);
    path = `${next.pathname}${next.search}`;
  }
  return path;
}

/** The answers the floor and the service must agree on: get one, and a page of each route. */
function answerChecks(
  context: Context,
  paths: DeepPaths,
  [owner, taskId]: [string, string],
): [string, string, string, string][] {
  const checks: [string, string, string, string][] = [
    ['get one', `/api/${owner}/tasks/${taskId}`, `/api/${owner}/tasks/${taskId}`, owner],
  ];
  for (const route of context.options.routes) {
    const deep = { service: paths.service[route], floor: paths.floor[route] };
    const first = BIG_USER_PAGES[route] && `/api/${BIG_USER}/tasks${BIG_USER_PAGES[route]}`;
    if (deep.service && deep.floor) checks.push([route, deep.service, deep.floor, BIG_USER]);
    else if (first && !DEEP_ROUTES.includes(route)) checks.push([route, first, first, BIG_USER]);
  }
  return checks;
}

/** What every phase of a run shares. */
export interface Context {
  options: Options;
  jsDir: string;
  database: BenchDatabase;
  driver: Driver;
  pairs: [string, string][];
  users: string[];
  settings: RunSettings;
}

/** Each server's path of page 200 of each deep route asked for. */
export type DeepPaths = {
  service: Partial<Record<RouteName, string>>;
  floor: Partial<Record<RouteName, string>>;
};
const deepPathCache = new WeakMap<Pair, DeepPaths>();

/**
 * Page 200 of each of the big user's deep routes (DEEP_ROUTES) on each server of a pair, found
 * once per pair by walking its Link headers; the first time, the two servers' answers to every
 * big-user route asked for are also compared.
 */
export async function deepPaths(
  context: Context,
  pair: Pair,
  other: 'floor' | 'peer' = 'floor',
): Promise<DeepPaths> {
  const cached = deepPathCache.get(pair);
  if (cached) return cached;
  const token = (user: string): string => signToken(SECRET, user);
  const paths: DeepPaths = { service: {}, floor: {} };
  for (const route of DEEP_ROUTES.filter((deep) => context.options.routes.includes(deep))) {
    paths.service[route] = await deepPath(pair.service, token(BIG_USER), route, 200);
    paths.floor[route] = await deepPath(pair.floor, token(BIG_USER), route, 200);
  }
  if (pair.service !== pair.floor) {
    await compareAnswers(pair, answerChecks(context, paths, context.pairs[0]), token, other);
  }
  deepPathCache.set(pair, paths);
  return paths;
}

export const scenarioFor = (
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

export const describeLoad = (name: string, result: LoadResult): string =>
  `${name.padEnd(8)} ${Math.round(result.requestsPerSec).toString().padStart(6)} req/s  ` +
  `p50 ${result.p50.toFixed(2)}  p95 ${result.p95.toFixed(2)}  p99 ${result.p99.toFixed(2)} ms` +
  (result.non2xx > 0 ? `  (${result.non2xx} non-2xx: ${JSON.stringify(result.statuses)})` : '');
