/** The routes the benchmark drives, in the order they are run and printed. */
export const ROUTES = [
  'get-one',
  'list-first',
  'big-page-1',
  'big-page-200',
  'create',
  'update',
  'toggle',
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
};

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
  /** Path and query of page 200 of the big user's list on this server (from its Link headers). */
  deepPath?: string;
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
