import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { SeedPlan } from './database';
import { ROUTES } from './scenarios';

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
  --only LIST          phases: repository,throughput,roundtrips,rtt,profile,lever,events,sync
  --no-peer            leave the conventional peer (bench/peer: the same routes the NestJS
                       docs' way) out of the throughput phase, for quicker A/Bs
  --routes LIST        routes: ${ROUTES.join(',')}
  --node-options=F     extra node flags for the service, space-separated; the = is needed
                       because they start with a dash: --node-options=--max-semi-space-size=8
  --durable            keep fsync and synchronous_commit on in the embedded PostgreSQL
  --write-results      rewrite the generated sections of bench/RESULTS.md with this run's
                       measurements (without it, the tracked file is left alone)

Working files (the embedded PostgreSQL, server logs, CPU profiles; about 2 GB once the
full seed is there) go under bench/.work, which git ignores; delete it to start from scratch.
BENCH_DATABASE_URL uses that database instead of the embedded one under bench/.work/pg.`;

export const PHASES = [
  'repository',
  'throughput',
  'roundtrips',
  'rtt',
  'profile',
  'lever',
  'events',
  'sync',
] as const;
export type Phase = (typeof PHASES)[number];

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

/** The command line, checked: a bad value stops the run before anything starts. */
export function parseOptions() {
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
      'write-results': { type: 'boolean', default: false },
      'node-options': { type: 'string', default: '' },
      lever: { type: 'string' },
      'baseline-dist': { type: 'string' },
      'variant-dist': { type: 'string' },
      'no-peer': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
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
      'events',
      'sync',
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
    writeResults: values['write-results'],
    profileRoute: (list('profile-route', values['profile-route'], ROUTES) ?? ['get-one'])[0],
    nodeOptions: values['node-options'].split(' ').filter(Boolean),
    peer: !values['no-peer'],
    lever,
    baselineDist,
    variantDist,
  };
}
export type Options = ReturnType<typeof parseOptions>;
