import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as prettier from 'prettier';
import type { EventsMeasurement } from './phase-events';
import type { SyncMeasurement } from './phase-sync';
import { cpuPerRowUs } from './feed-sync';
import type { RepositoryTiming } from './repository-timing';
import { LoadResult, ROUTE_LABELS, RouteName } from './scenarios';

/** A measure per server; `peer` when the conventional peer ran beside them. */
type PerServer = { service: number; floor: number; peer?: number };

export interface Comparison {
  route: RouteName;
  service: LoadResult;
  floor: LoadResult;
  /** The conventional peer (bench/peer), when it ran: the same routes the NestJS docs' way. */
  peer?: LoadResult;
  /** CPU time the server process used per response, in ms (NaN where unknown). */
  cpuPerRequest: PerServer;
  /** CPU time of PostgreSQL, and of the whole machine, per response, in ms: on a machine whose
   * cores the server, PostgreSQL and the load generator share, what bounds the throughput. */
  postgresCpuPerRequest?: PerServer;
  machineCpuPerRequest?: PerServer;
}

const pairOf = (values: { service: number; floor: number } | undefined): string =>
  values === undefined ? '' : `${values.service.toFixed(2)} / ${values.floor.toFixed(2)}`;

export interface RoundTrips {
  route: RouteName;
  service: number;
  floor: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  date: string;
  commit: string;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

export interface RunSettings {
  mode: 'quick' | 'full';
  connections: number;
  durationSec: number;
  warmupSec: number;
  poolMax: number;
  logLevel: string;
  durable: boolean;
  seed: string;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '–');
const rps = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toString() : '–';
const ratio = (comparison: Comparison): number =>
  comparison.service.requestsPerSec / comparison.floor.requestsPerSec;
/** The service's req/s over the conventional peer's (NaN when the peer did not run). */
const peerRatio = (comparison: Comparison): number =>
  comparison.service.requestsPerSec / (comparison.peer?.requestsPerSec ?? Number.NaN);

/** A note on anything but clean 2xx answers: such a row measures errors, not the route. */
const problems = (result: LoadResult): string => {
  const notes: string[] = [];
  if (result.non2xx > 0) {
    const statuses = Object.entries(result.statuses)
      .filter(([status]) => !status.startsWith('2'))
      .map(([status, count]) => `${count}×${status}`);
    notes.push(`non-2xx: ${statuses.join(', ')}`);
  }
  if (result.errors > 0) notes.push(`${result.errors} errors`);
  if (result.timeouts > 0) notes.push(`${result.timeouts} timeouts`);
  return notes.join('; ');
};

export function markdownTable(headers: string[], rows: string[][], align?: string[]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map((_, i) => (align?.[i] === 'l' ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

export function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ');
  return [
    line(headers),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

export function comparisonRows(comparisons: Comparison[]): { headers: string[]; rows: string[][] } {
  // The peer's columns only when it ran (not with --no-peer, nor in the lever and --rtt runs).
  const withPeer = comparisons.some((comparison) => comparison.peer);
  return {
    headers: [
      'route',
      'service req/s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'floor req/s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'ratio',
      ...(withPeer ? ['peer req/s', 'p99 ms', 'service ÷ peer'] : []),
      'CPU ms/req service',
      'CPU ms/req floor',
      ...(withPeer ? ['CPU ms/req peer'] : []),
      'PostgreSQL ms/req service / floor',
      'machine ms/req service / floor',
      'notes',
    ],
    rows: comparisons.map((comparison) => [
      ROUTE_LABELS[comparison.route],
      rps(comparison.service.requestsPerSec),
      ms(comparison.service.p50),
      ms(comparison.service.p95),
      ms(comparison.service.p99),
      rps(comparison.floor.requestsPerSec),
      ms(comparison.floor.p50),
      ms(comparison.floor.p95),
      ms(comparison.floor.p99),
      ratio(comparison).toFixed(2),
      ...(withPeer
        ? [
            rps(comparison.peer?.requestsPerSec ?? Number.NaN),
            ms(comparison.peer?.p99 ?? Number.NaN),
            ms(peerRatio(comparison)),
          ]
        : []),
      ms(comparison.cpuPerRequest.service),
      ms(comparison.cpuPerRequest.floor),
      ...(withPeer ? [ms(comparison.cpuPerRequest.peer ?? Number.NaN)] : []),
      pairOf(comparison.postgresCpuPerRequest),
      pairOf(comparison.machineCpuPerRequest),
      [
        problems(comparison.service) && `service ${problems(comparison.service)}`,
        problems(comparison.floor) && `floor ${problems(comparison.floor)}`,
        comparison.peer && problems(comparison.peer) && `peer ${problems(comparison.peer)}`,
      ]
        .filter(Boolean)
        .join('; '),
    ]),
  };
}

export function repositoryRows(timings: RepositoryTiming[]): {
  headers: string[];
  rows: string[][];
} {
  return {
    headers: ['operation', 'rows', 'calls', 'p50 ms', 'p95 ms'],
    rows: timings.map((timing) => [
      timing.operation,
      timing.rows.toLocaleString('en-US'),
      timing.calls.toLocaleString('en-US'),
      timing.p50.toFixed(3),
      timing.p95.toFixed(3),
    ]),
  };
}

export interface Measurements {
  connections: number;
  throughput?: Comparison[];
  peakRssMb?: number;
  readyRssMb?: number;
  /** The conventional peer's peak RSS over the throughput phase, when it ran. */
  peerPeakRssMb?: number;
  repository?: RepositoryTiming[];
  roundTrips?: RoundTrips[];
  rtt?: { rttMs: number; effectiveMs: number; connections: number; comparisons: Comparison[] };
  events?: EventsMeasurement;
  sync?: SyncMeasurement;
}

/** The issue's targets, each judged from this run's measurements (null when not measured). */
export function evaluateTargets(m: Measurements): Target[] {
  const find = (route: RouteName): Comparison | undefined =>
    m.throughput?.find((comparison) => comparison.route === route);
  const clean = (comparison: Comparison | undefined): comparison is Comparison =>
    !!comparison && comparison.service.non2xx === 0 && comparison.floor.non2xx === 0;
  const ratioTarget = (name: string, routes: RouteName[], goal: number): Target => {
    const found = routes.map(find);
    if (found.some((comparison) => !comparison)) {
      return { name, goal: `≥ ${goal.toFixed(2)}`, measured: 'not measured', met: null };
    }
    const comparisons = found as Comparison[];
    return {
      name,
      goal: `≥ ${goal.toFixed(2)}`,
      measured: comparisons
        .map((c) => `${routes.length > 1 ? `${c.route} ` : ''}${ratio(c).toFixed(2)}`)
        .join(', '),
      met: comparisons.every((c) => clean(c) && ratio(c) >= goal),
    };
  };
  const targets: Target[] = [];

  const trips = m.roundTrips;
  targets.push({
    name: 'database round trips per request, every route (service)',
    goal: 'exactly 1',
    measured: trips
      ? trips.map((trip) => `${trip.route} ${trip.service.toFixed(2)}`).join(', ')
      : 'not measured',
    met: trips ? trips.every((trip) => Math.abs(trip.service - 1) < 0.005) : null,
  });
  // Against the floor that takes every lever the service takes (bench/floor.ts).
  targets.push(ratioTarget('get one: service req/s ÷ floor req/s', ['get-one'], 0.8));
  targets.push(ratioTarget('list first page: ratio', ['list-first'], 0.8));
  targets.push(ratioTarget('create / update / toggle: ratio', ['create', 'update', 'toggle'], 0.8));
  targets.push(peerTarget(m.throughput));

  const getOne = find('get-one');
  targets.push({
    name: `p99 latency at ${m.connections} connections, get one`,
    goal: '≤ 1.5 × floor p99',
    measured: getOne
      ? `${ms(getOne.service.p99)} ms vs ${ms(getOne.floor.p99)} ms (${(getOne.service.p99 / getOne.floor.p99).toFixed(2)}×)`
      : 'not measured',
    met: getOne ? clean(getOne) && getOne.service.p99 <= 1.5 * getOne.floor.p99 : null,
  });

  const page1 = find('big-page-1');
  const page200 = find('big-page-200');
  targets.push({
    name: 'page 200 of a 100,000-task list vs page 1 (service p95)',
    goal: 'within 1.2×',
    measured:
      page1 && page200
        ? `${ms(page200.service.p95)} ms vs ${ms(page1.service.p95)} ms (${(page200.service.p95 / page1.service.p95).toFixed(2)}×)`
        : 'not measured',
    met:
      page1 && page200
        ? clean(page1) && clean(page200) && page200.service.p95 <= 1.2 * page1.service.p95
        : null,
  });

  targets.push(
    ...organisingTargets(m, find, ratioTarget),
    ...eventsTargets(m.events),
    syncTarget(m.sync),
  );

  const repoGetOne = (m.repository ?? []).filter((timing) => timing.operation === 'findOne');
  const smallest = repoGetOne[0];
  const largest = repoGetOne[repoGetOne.length - 1];
  targets.push({
    name: `get one at ${largest ? largest.rows.toLocaleString('en-US') : '1,000,000'} rows vs ${smallest ? smallest.rows.toLocaleString('en-US') : '10,000'} rows (repository, p95)`,
    goal: 'within 1.2×',
    measured:
      repoGetOne.length >= 2
        ? `${largest.p95.toFixed(3)} ms vs ${smallest.p95.toFixed(3)} ms (${(largest.p95 / smallest.p95).toFixed(2)}×)`
        : 'not measured',
    met: repoGetOne.length >= 2 ? largest.p95 <= 1.2 * smallest.p95 : null,
  });

  const rtt = m.rtt;
  targets.push({
    name: rtt
      ? `with --rtt ${rtt.rttMs} at ${rtt.connections} connections: p95 of every route (service)`
      : 'with --rtt 10 at 4 connections: p95 of every route',
    goal: rtt
      ? `≤ RTT + 3 ms = ${(rtt.effectiveMs + 3).toFixed(1)} ms (effective RTT ${rtt.effectiveMs.toFixed(1)} ms)`
      : '≤ RTT + 3 ms',
    measured: rtt
      ? `service worst ${ms(Math.max(...rtt.comparisons.map((c) => c.service.p95)))} ms (${
          [...rtt.comparisons].sort((a, b) => b.service.p95 - a.service.p95)[0]?.route
        }); floor worst ${ms(Math.max(...rtt.comparisons.map((c) => c.floor.p95)))} ms`
      : 'not measured (run with --rtt 10)',
    met: rtt
      ? rtt.comparisons.every((c) => c.service.non2xx === 0 && c.service.p95 <= rtt.effectiveMs + 3)
      : null,
  });

  targets.push({
    name: 'peak RSS of the service under load',
    goal: '≤ 200 MB',
    measured: m.peakRssMb !== undefined ? `${m.peakRssMb.toFixed(0)} MB` : 'not measured',
    met: m.peakRssMb !== undefined ? m.peakRssMb <= 200 : null,
  });
  return targets;
}

/** ≥ 2× the conventional peer's req/s on every route measured: what the service buys a team. */
function peerTarget(throughput: Comparison[] | undefined): Target {
  const name = 'service req/s ÷ conventional peer req/s, every route';
  const goal = '≥ 2× the conventional peer on every route';
  const measured = throughput?.filter((comparison) => comparison.peer) ?? [];
  if (measured.length === 0) {
    return { name, goal, measured: 'not measured (--no-peer, or no throughput phase)', met: null };
  }
  return {
    name,
    goal,
    measured: measured
      .map((comparison) => `${comparison.route} ${peerRatio(comparison).toFixed(2)}`)
      .join(', '),
    met: measured.every(
      (comparison) =>
        comparison.service.non2xx === 0 &&
        comparison.peer!.non2xx === 0 &&
        peerRatio(comparison) >= 2,
    ),
  };
}

/** The routes of specification §13 and the feed: deep pages stay flat, ratios to the floor. */
function organisingTargets(
  m: Measurements,
  find: (route: RouteName) => Comparison | undefined,
  ratioTarget: (name: string, routes: RouteName[], goal: number) => Target,
): Target[] {
  const deep: [string, RouteName, RouteName][] = [
    ['sort=due', 'due-page-1', 'due-page-200'],
    ['sort=-priority', 'priority-page-1', 'priority-page-200'],
  ];
  const pages: RouteName[] = [
    'search',
    'due-page-1',
    'due-page-200',
    'priority-page-1',
    'priority-page-200',
    'changes-page',
  ];
  const measured = deep.filter(([, first, last]) => find(first) && find(last));
  const growth = measured.map(([name, first, last]) => {
    const [one, two] = [find(first) as Comparison, find(last) as Comparison];
    return {
      name,
      clean: [one, two].every((c) => c.service.non2xx === 0 && c.floor.non2xx === 0),
      p95: two.service.p95 / one.service.p95,
      cpu: two.cpuPerRequest.service / one.cpuPerRequest.service,
    };
  });
  return [
    {
      name: 'page 200 vs page 1 of sort=due and sort=-priority, 100,000 tasks (service p95, CPU/req)',
      goal: 'within 1.5×',
      measured:
        growth.length > 0
          ? growth
              .map((g) => `${g.name} p95 ${g.p95.toFixed(2)}×, CPU ${g.cpu.toFixed(2)}×`)
              .join('; ')
          : 'not measured',
      met: growth.length > 0 ? growth.every((g) => g.clean && g.p95 <= 1.5 && g.cpu <= 1.5) : null,
    },
    // The list page's goal, for the other pages of tasks.
    ratioTarget(
      'search, sort=due, sort=-priority, changes feed: ratio',
      pages.some(find) ? pages.filter(find) : pages,
      0.75,
    ),
  ];
}

/** A first sync through the changes feed costs per row what reading the rows as list pages does. */
function syncTarget(sync: SyncMeasurement | undefined): Target {
  const name = 'first sync: service CPU per row, changes feed ÷ list pages (same rows)';
  const goal = '≤ 1.10×, every row once';
  if (!sync) return { name, goal, measured: 'not measured', met: null };
  const { feed, list } = sync.service;
  const ratio = cpuPerRowUs(feed) / cpuPerRowUs(list);
  return {
    name,
    goal,
    measured:
      `${cpuPerRowUs(feed).toFixed(1)} vs ${cpuPerRowUs(list).toFixed(1)} µs (${ratio.toFixed(2)}×); ` +
      `${feed.calls} calls in ${(feed.ms / 1000).toFixed(2)} s (floor ${(sync.floor.feed.ms / 1000).toFixed(2)} s)`,
    met: ratio <= 1.1 && feed.distinctIds === feed.rows && feed.rows === list.rows,
  };
}

/** Live events: the request path with 1,000 streams open, and a write's way to its streams. */
function eventsTargets(events: EventsMeasurement | undefined): Target[] {
  const streams = (events?.streams ?? 1000).toLocaleString('en-US');
  const openName = `events: GET one with ${streams} streams open, service ÷ floor req/s against none open`;
  const fanOutName = `events: a write to its event on all of its user's streams, ${streams} open (p95)`;
  const fanOutGoal = '≤ 1,000 ms, none missed';
  if (!events) {
    return [
      { name: openName, goal: '≥ 0.90× (unchanged)', measured: 'not measured', met: null },
      { name: fanOutName, goal: fanOutGoal, measured: 'not measured', met: null },
    ];
  }
  const { closed, open } = events.getOne;
  const ratio = (loads: typeof closed): number =>
    loads.service.requestsPerSec / loads.floor.requestsPerSec;
  const change = ratio(open) / ratio(closed);
  const fan = events.fanOut.service;
  return [
    {
      name: openName,
      goal: '≥ 0.90× (unchanged)',
      measured: `${ratio(open).toFixed(2)} vs ${ratio(closed).toFixed(2)} (${change.toFixed(2)}×)`,
      met: change >= 0.9,
    },
    {
      name: fanOutName,
      goal: fanOutGoal,
      measured: `${ms(fan.all.p95)} ms (floor ${ms(events.fanOut.floor.all.p95)} ms); ${fan.missed} of ${fan.writes} missed`,
      met: fan.missed === 0 && fan.all.p95 <= 1000,
    },
  ];
}

export const verdict = (target: Target): string =>
  target.met === null ? '–' : target.met ? 'met' : 'MISSED';

export function targetRows(targets: Target[]): { headers: string[]; rows: string[][] } {
  return {
    headers: ['target', 'goal', 'measured', 'verdict'],
    rows: targets.map((target) => [target.name, target.goal, target.measured, verdict(target)]),
  };
}

// RESULTS.md: generated sections live between markers; everything else is hand-written and
// kept as it is when the file is regenerated.
export const SECTIONS = ['run', 'repository', 'rtt', 'profile'] as const;
export type Section = (typeof SECTIONS)[number];

const start = (section: Section): string => `<!-- bench:${section}:start -->`;
const end = (section: Section): string => `<!-- bench:${section}:end -->`;

const TEMPLATE = `# Benchmark results

Generated by \`npm run bench\` (see bench/run.ts); the text between the \`bench:…\` markers is
rewritten by every run that measures it, everything else is written by hand and kept.

## Latest run

${start('run')}
${end('run')}

## The repository alone

${start('repository')}
${end('repository')}

## A database across a network (\`--rtt\`)

${start('rtt')}
${end('rtt')}

## Where the time goes

${start('profile')}
${end('profile')}

## What each lever did

(Written by hand: each change to the service, and what it did to the numbers above.)
`;

/**
 * Rewrites the generated sections of RESULTS.md, then formats the file as the project's Prettier
 * settings would (`npm run lint` checks it), so that a regenerated file needs no hand touch-up.
 */
export async function writeResults(
  path: string,
  sections: Partial<Record<Section, string>>,
): Promise<void> {
  let text = existsSync(path) ? readFileSync(path, 'utf8') : TEMPLATE;
  for (const section of SECTIONS) {
    const content = sections[section];
    if (content === undefined) continue;
    const from = text.indexOf(start(section));
    const to = text.indexOf(end(section));
    const block = `${start(section)}\n${content.trim()}\n${end(section)}`;
    if (from >= 0 && to > from) {
      text = text.slice(0, from) + block + text.slice(to + end(section).length);
    } else {
      text = `${text.trimEnd()}\n\n${block}\n`;
    }
  }
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(text, { ...options, filepath: path }));
}
