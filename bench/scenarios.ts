/** The routes the benchmark drives, in the order they are run and printed. */
export const ROUTES = [
  'get-one',
  'list-first',
  'big-page-1',
  'big-page-200',
  'create',
  'update',
  'toggle',
  'search',
  'due-page-1',
  'due-page-200',
  'priority-page-1',
  'priority-page-200',
  'changes-page',
] as const;
export type RouteName = (typeof ROUTES)[number];

export const ROUTE_LABELS: Record<RouteName, string> = {
  'get-one': 'get one task',
  'list-first': 'list, first page (limit 50)',
  'big-page-1': 'big user, page 1 (limit 50)',
  'big-page-200': 'big user, page 200 (cursor)',
  create: 'create (POST)',
  update: 'partial update (PUT)',
  toggle: 'toggle (PATCH …/complete)',
  search: 'big user, search q= (relevance, p1)',
  'due-page-1': 'big user, sort=due, page 1',
  'due-page-200': 'big user, sort=due, page 200',
  'priority-page-1': 'big user, sort=-priority, page 1',
  'priority-page-200': 'big user, sort=-priority, page 200',
  'changes-page': 'big user, changes feed (1,000 rows)',
};

/**
 * A word of the seeded titles (bench/database.ts) that about one task in 331 has: a search that
 * matches a few hundred of the big user's tasks (about 300 of 100,000; 60 of the quick 20,000).
 */
export const SEARCH_WORD = 'dentist';

/**
 * The big user's read routes: path and query under `/api/<big user>/tasks`. A page-200 route
 * starts from its page 1 and follows the server's `Link: rel="next"` headers (bench/context.ts).
 */
export const BIG_USER_PAGES: Partial<Record<RouteName, string>> = {
  'big-page-1': '?limit=50',
  'big-page-200': '?limit=50',
  search: `?q=${SEARCH_WORD}&limit=50`,
  'due-page-1': '?sort=due&limit=50',
  'due-page-200': '?sort=due&limit=50',
  'priority-page-1': '?sort=-priority&limit=50',
  'priority-page-200': '?sort=-priority&limit=50',
  // The feed's page size: a first sync's first page.
  'changes-page': '/changes?limit=1000',
};

/**
 * Fewer connections than the run's for a route whose answer is large: a feed page of 1,000 rows
 * takes tens of ms of CPU, and at 32 connections most answers would still be in flight when a
 * 1 s stretch of load ends (autocannon drops those). A syncing client holds one connection.
 */
export const ROUTE_CONNECTIONS: Partial<Record<RouteName, number>> = { 'changes-page': 4 };

/** The routes that read page 200, found by following Link headers from page 1. */
export const DEEP_ROUTES: RouteName[] = ['big-page-200', 'due-page-200', 'priority-page-200'];

/** What the load driver needs to build the requests of one route against one server. */
export interface Scenario {
  route: RouteName;
  baseUrl: string;
  connections: number;
  /** Seconds of load; ignored when `amount` is set. */
  durationSec: number;
  /** Stop after this many responses instead of after `durationSec`. */
  amount?: number;
  secret: string;
  /** [userId, taskId] pairs of seeded tasks, spread over many users. */
  pairs: [string, string][];
  /** Seeded users with ~100 tasks each. */
  users: string[];
  bigUser: string;
  /**
   * For each page-200 route (DEEP_ROUTES), its path and query on this server, found from the
   * server's own Link headers.
   */
  deepPath?: Partial<Record<RouteName, string>>;
}

/** One stretch of load as the driver saw it: every response's latency, in milliseconds. */
export interface LoadSample {
  latencies: Float64Array;
  durationSec: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

export interface LoadResult {
  responses: number;
  durationSec: number;
  requestsPerSec: number;
  /** Latencies in milliseconds, of every response. */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export type DriverRequest = { id: number; scenario: Scenario } | { id: number; exit: true };
export type DriverReply = { id: number; sample?: LoadSample; error?: string };

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Merges stretches of load on the same route and server into one result. */
export function summarise(samples: LoadSample[]): LoadResult {
  const count = samples.reduce((sum, sample) => sum + sample.latencies.length, 0);
  const latencies = new Float64Array(count);
  let offset = 0;
  const statuses: Record<string, number> = {};
  for (const sample of samples) {
    latencies.set(sample.latencies, offset);
    offset += sample.latencies.length;
    for (const [status, n] of Object.entries(sample.statuses)) {
      statuses[status] = (statuses[status] ?? 0) + n;
    }
  }
  latencies.sort();
  const durationSec = samples.reduce((sum, sample) => sum + sample.durationSec, 0);
  return {
    responses: count,
    durationSec,
    requestsPerSec: count / durationSec,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: count > 0 ? latencies[count - 1] : Number.NaN,
    statuses,
    non2xx: Object.entries(statuses)
      .filter(([status]) => !status.startsWith('2'))
      .reduce((sum, [, n]) => sum + n, 0),
    errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
    timeouts: samples.reduce((sum, sample) => sum + sample.timeouts, 0),
  };
}
