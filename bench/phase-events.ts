import { Agent, type ClientRequest, request } from 'node:http';
import {
  type Context,
  describeLoad,
  log,
  type Pair,
  scenarioFor,
  SECRET,
  seconds,
  startPair,
} from './context';
import { removeBenchmarkRows } from './database';
import type { ServerProcess } from './processes';
import { markdownTable, type Measurements } from './report';
import { type LoadResult, type LoadSample, percentile, summarise } from './scenarios';
import { signToken } from './tokens';

/**
 * The events phase (`--only events`; specification §15, docs/events.md): STREAMS open
 * Server-Sent Events streams on one service process, and what they cost.
 *
 * - Memory: the process's resident set before the streams are opened and once they are all open
 *   and idle; the difference per stream.
 * - The request path: GET one task on the service and the floor taking turns (ABBA, 1 s
 *   stretches), with no stream open, with all open, and with none again; the service's ratio to
 *   the floor with the streams open against without (the mean of the two stretches around it).
 * - Fan-out: one write at a time (PATCH …/complete on a task of a user whose 10 streams are
 *   open), the time from sending it to its `change` event on the first and on the last of that
 *   user's streams; on the service, then the same on the floor's events (bench/floor-events.ts).
 *
 * The streams are spread over STREAMS / 10 users, 10 each (the most one user may hold). The
 * service's per-process bound, EVENTS_MAX_STREAMS, is 2,000 by default: no setting is needed.
 * The floor's streams belong to other users than the service's, so that a write during the
 * service's fan-out makes no feed read in the floor, and the other way round.
 */

export const STREAMS = 1000;
const STREAMS_PER_USER = 10;
/** How long a write may take to reach all its user's streams before it counts as missed. */
const FAN_OUT_TIMEOUT_MS = 5000;

export interface FanOut {
  writes: number;
  missed: number;
  /** From sending the write to its event on the first of its user's streams, ms. */
  first: { p50: number; p95: number };
  /** … on the last of them (every stream of the user has it). */
  all: { p50: number; p95: number };
}

export interface EventsMeasurement {
  streams: number;
  users: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  perStreamKiB: number;
  floorPerStreamKiB: number;
  getOne: {
    closed: { service: LoadResult; floor: LoadResult };
    open: { service: LoadResult; floor: LoadResult };
  };
  fanOut: { service: FanOut; floor: FanOut };
}

interface Waiter {
  taskId: string;
  started: number;
  arrivals: Map<number, number>;
  done: () => void;
}

/** STREAMS_PER_USER streams for each user, read by this process; `close` ends them all. */
class OpenStreams {
  private readonly requests: ClientRequest[] = [];
  private readonly waiting = new Map<string, Waiter>();
  private readonly agent = new Agent({ keepAlive: false, maxSockets: Infinity });

  constructor(
    private readonly server: ServerProcess,
    readonly users: string[],
  ) {}

  async open(): Promise<void> {
    const batch = 50;
    const all = this.users.flatMap((user) => Array.from({ length: STREAMS_PER_USER }, () => user));
    for (let from = 0; from < all.length; from += batch) {
      await Promise.all(
        all.slice(from, from + batch).map((user, index) => this.openOne(user, from + index)),
      );
    }
  }

  private openOne(userId: string, index: number): Promise<void> {
    return new Promise((opened, failed) => {
      const req = request(
        new URL(`/api/${encodeURIComponent(userId)}/events`, this.server.url),
        { agent: this.agent, headers: { authorization: `Bearer ${signToken(SECRET, userId)}` } },
        (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            return failed(new Error(`${this.server.name} stream ${index}: ${response.statusCode}`));
          }
          response.setEncoding('utf8');
          let buffer = '';
          response.on('data', (chunk: string) => {
            const now = performance.now();
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (event.startsWith('event: change\n')) this.received(userId, index, event, now);
            }
          });
          opened();
        },
      );
      req.on('error', (error) => {
        if (!req.destroyed) failed(error);
      });
      req.end();
      this.requests.push(req);
    });
  }

  private received(userId: string, index: number, event: string, at: number): void {
    const waiter = this.waiting.get(userId);
    if (!waiter || waiter.arrivals.has(index) || !event.includes(`"id":"${waiter.taskId}"`)) {
      return;
    }
    waiter.arrivals.set(index, at - waiter.started);
    if (waiter.arrivals.size === STREAMS_PER_USER) waiter.done();
  }

  /** Sends one write of `userId`'s task; the times its event took to reach the user's streams. */
  async write(userId: string, taskId: string): Promise<number[]> {
    let done = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (done = resolve));
    const waiter: Waiter = { taskId, started: performance.now(), arrivals: new Map(), done };
    this.waiting.set(userId, waiter);
    const response = await fetch(
      new URL(`/api/${encodeURIComponent(userId)}/tasks/${taskId}/complete`, this.server.url),
      { method: 'PATCH', headers: { authorization: `Bearer ${signToken(SECRET, userId)}` } },
    );
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${this.server.name} toggle: ${response.status}`);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, FAN_OUT_TIMEOUT_MS).unref());
    await Promise.race([arrived, timeout]);
    this.waiting.delete(userId);
    return [...waiter.arrivals.values()].sort((a, b) => a - b);
  }

  close(): void {
    for (const req of this.requests) req.destroy();
    this.agent.destroy();
  }
}

/** `writes` writes, one at a time, over the users' seeded tasks. */
async function fanOut(
  streams: OpenStreams,
  tasks: Map<string, string[]>,
  writes: number,
): Promise<FanOut> {
  const first: number[] = [];
  const all: number[] = [];
  let missed = 0;
  for (let n = 0; n < writes; n++) {
    const user = streams.users[n % streams.users.length];
    const owned = tasks.get(user) as string[];
    const arrivals = await streams.write(
      user,
      owned[Math.floor(n / streams.users.length) % owned.length],
    );
    if (arrivals.length < STREAMS_PER_USER) missed++;
    if (arrivals.length > 0) first.push(arrivals[0]);
    if (arrivals.length === STREAMS_PER_USER) all.push(arrivals[arrivals.length - 1]);
  }
  const at = (values: number[]) => {
    const sorted = Float64Array.from(values).sort();
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  };
  return { writes, missed, first: at(first), all: at(all) };
}

type Samples = Record<'service' | 'floor', LoadSample[]>;

/** GET one task on both servers, taking turns in 1 s stretches (ABBA), `slices` turns each. */
async function getOne(context: Context, pair: Pair, slices: number): Promise<Samples> {
  const samples: Samples = { service: [], floor: [] };
  for (let slice = 0; slice < slices; slice++) {
    const order =
      slice % 2 === 0 ? (['floor', 'service'] as const) : (['service', 'floor'] as const);
    for (const server of order) {
      const scenario = scenarioFor(context, 'get-one', pair[server].url, { durationSec: 1 });
      samples[server].push(await context.driver.run(scenario));
    }
  }
  return samples;
}

const summariseBoth = (...parts: Samples[]) => ({
  service: summarise(parts.flatMap((part) => part.service)),
  floor: summarise(parts.flatMap((part) => part.floor)),
});

export async function measureEvents(context: Context, measurements: Measurements): Promise<void> {
  const { options, database } = context;
  const phaseStarted = performance.now();
  const users = STREAMS / STREAMS_PER_USER;
  // The seeded tasks of the users that hold streams: the service's, then the floor's.
  const tasks = new Map<string, string[]>();
  for (const [user, task] of context.pairs) tasks.set(user, [...(tasks.get(user) ?? []), task]);
  const owners = [...tasks.keys()];
  if (owners.length < 2 * users) throw new Error(`events: ${2 * users} users with tasks needed`);
  const writes = options.quick ? 200 : 300;
  const slices = Math.max(2, Math.ceil(options.durationSec / 2));
  log(
    `\nevents: ${STREAMS} streams (${users} users × ${STREAMS_PER_USER}) on each server; ` +
      `GET one in ${slices} turns of 1 s each without and with them; ${writes} writes' fan-out`,
  );
  const pair = await startPair(options, context.jsDir, database.url, '-events');
  const service = new OpenStreams(pair.service, owners.slice(0, users));
  const floor = new OpenStreams(pair.floor, owners.slice(users, 2 * users));
  try {
    if (options.warmupSec > 0) {
      for (const server of [pair.floor, pair.service]) {
        const scenario = scenarioFor(context, 'get-one', server.url, {
          durationSec: options.warmupSec,
        });
        await context.driver.run(scenario);
      }
    }
    const closedBefore = await getOne(context, pair, slices);
    const rssBefore = { service: pair.service.memory.sample(), floor: pair.floor.memory.sample() };
    await service.open();
    await floor.open();
    await new Promise((resume) => setTimeout(resume, 2000));
    const rssAfter = { service: pair.service.memory.sample(), floor: pair.floor.memory.sample() };
    const open = summariseBoth(await getOne(context, pair, slices));
    const fanOutService = await fanOut(service, tasks, writes);
    const fanOutFloor = await fanOut(floor, tasks, writes);
    service.close();
    floor.close();
    await new Promise((resume) => setTimeout(resume, 1000));
    const closedAfter = await getOne(context, pair, slices);
    const closed = summariseBoth(closedBefore, closedAfter);
    const result: EventsMeasurement = {
      streams: STREAMS,
      users,
      rssBeforeMb: rssBefore.service / 1024,
      rssAfterMb: rssAfter.service / 1024,
      perStreamKiB: (rssAfter.service - rssBefore.service) / STREAMS,
      floorPerStreamKiB: (rssAfter.floor - rssBefore.floor) / STREAMS,
      getOne: { closed, open },
      fanOut: { service: fanOutService, floor: fanOutFloor },
    };
    measurements.events = result;
    log(
      `  service RSS ${result.rssBeforeMb.toFixed(0)} MB → ${result.rssAfterMb.toFixed(0)} MB: ` +
        `${result.perStreamKiB.toFixed(1)} KiB per stream (floor ${result.floorPerStreamKiB.toFixed(1)} KiB)`,
    );
    for (const [label, loads] of [
      ['no stream open', closed],
      [`${STREAMS} streams open`, open],
    ] as const) {
      log(`  GET one, ${label}`);
      log(`    ${describeLoad('floor', loads.floor)}`);
      log(`    ${describeLoad('service', loads.service)}`);
    }
    for (const [label, fan] of [
      ['service', fanOutService],
      ['floor', fanOutFloor],
    ] as const) {
      log(
        `  fan-out ${label.padEnd(7)} first stream p50 ${fan.first.p50.toFixed(1)} ` +
          `p95 ${fan.first.p95.toFixed(1)} ms; all ${STREAMS_PER_USER} p50 ${fan.all.p50.toFixed(1)} ` +
          `p95 ${fan.all.p95.toFixed(1)} ms (${fan.writes} writes, ${fan.missed} missed)`,
      );
    }
  } finally {
    service.close();
    floor.close();
    await pair.service.stop();
    await pair.floor.stop();
  }
  await removeBenchmarkRows(database.url);
  log(`  (${seconds(phaseStarted)})`);
}

/** The events phase's figures, as a Markdown table (RESULTS.md and the terminal). */
export function eventsTable(events: EventsMeasurement): string[] {
  const { closed, open } = events.getOne;
  const load = (result: LoadResult): string =>
    `${Math.round(result.requestsPerSec)} req/s, p50 ${result.p50.toFixed(2)} / p99 ${result.p99.toFixed(2)} ms`;
  const fan = (result: FanOut): string =>
    `first stream p50 ${result.first.p50.toFixed(1)} / p95 ${result.first.p95.toFixed(1)} ms; ` +
    `all ${STREAMS_PER_USER} p50 ${result.all.p50.toFixed(1)} / p95 ${result.all.p95.toFixed(1)} ms` +
    (result.missed > 0 ? ` (${result.missed} of ${result.writes} missed)` : '');
  return [
    `Live events: ${events.streams.toLocaleString('en-US')} open streams (${events.users} users × ` +
      `${STREAMS_PER_USER}) on one process of each server:`,
    '',
    markdownTable(
      ['figure', 'service', 'floor'],
      [
        [
          'resident memory per open stream',
          `${events.perStreamKiB.toFixed(1)} KiB (${events.rssBeforeMb.toFixed(0)} → ${events.rssAfterMb.toFixed(0)} MB)`,
          `${events.floorPerStreamKiB.toFixed(1)} KiB`,
        ],
        ['GET one, no stream open', load(closed.service), load(closed.floor)],
        ['GET one, all streams open', load(open.service), load(open.floor)],
        [
          `fan-out of a toggle to its user's streams (${events.fanOut.service.writes} writes)`,
          fan(events.fanOut.service),
          fan(events.fanOut.floor),
        ],
      ],
      ['l', 'l', 'l'],
    ),
    '',
  ];
}
