import { type Context, log, SECRET, startPair } from './context';
import { BIG_USER } from './database';
import { cpuPerRowUs, firstSync, readAllPages, type SyncMeasure } from './feed-sync';
import { markdownTable, type Measurements } from './report';
import { signToken } from './tokens';

/**
 * The sync phase (`--only sync`; docs/sync.md, "A first sync"): a client with no sync token
 * reads the big user's every task through the changes feed, `next` after `next`, 1,000 changes a
 * call, one call at a time; then the same rows as list pages of the largest size. The floor and
 * the service take turns, ROUNDS each, nothing else loading them; the feed's CPU per row is
 * judged against the list's on the same server.
 */

const ROUNDS = 2;

/** Both reads on one server, each the median of its rounds by time. */
export interface SyncReads {
  feed: SyncMeasure;
  list: SyncMeasure;
}

export interface SyncMeasurement {
  service: SyncReads;
  floor: SyncReads;
}

const median = (measures: SyncMeasure[]): SyncMeasure =>
  [...measures].sort((a, b) => a.ms - b.ms)[Math.floor(measures.length / 2)];

export async function measureSync(context: Context, measurements: Measurements): Promise<void> {
  const { options, database } = context;
  log(`\nsync: a first sync of ${BIG_USER}'s tasks through the changes feed, and as list pages`);
  const pair = await startPair(options, context.jsDir, database.url, '-sync');
  try {
    const runs = { service: { feed: [], list: [] }, floor: { feed: [], list: [] } } as Record<
      'service' | 'floor',
      Record<'feed' | 'list', SyncMeasure[]>
    >;
    const sign = (user: string): string => signToken(SECRET, user);
    // A warm-up read of each, then ABBA rounds.
    for (const server of [pair.floor, pair.service]) {
      await firstSync({ baseUrl: server.url, userId: BIG_USER, sign });
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (['floor', 'service'] as const) : (['service', 'floor'] as const);
      for (const name of order) {
        const server = pair[name];
        const target = { baseUrl: server.url, userId: BIG_USER, sign, pid: server.pid };
        runs[name].feed.push(await firstSync(target));
        runs[name].list.push(await readAllPages(target));
      }
    }
    const reads = (name: 'service' | 'floor'): SyncReads => ({
      feed: median(runs[name].feed),
      list: median(runs[name].list),
    });
    measurements.sync = { service: reads('service'), floor: reads('floor') };
    for (const line of syncTable(measurements.sync)) log(line);
  } finally {
    await pair.service.stop();
    await pair.floor.stop();
  }
}

export function syncTable(sync: SyncMeasurement): string[] {
  const cells = (measure: SyncMeasure): string =>
    `${measure.calls} calls, ${measure.rows.toLocaleString('en-US')} rows ` +
    `(${measure.distinctIds.toLocaleString('en-US')} distinct), ${(measure.bytes / 1e6).toFixed(1)} MB, ` +
    `${(measure.ms / 1000).toFixed(2)} s, ${cpuPerRowUs(measure).toFixed(1)} µs CPU/row`;
  return [
    `A first sync of the big user's tasks (the median of ${ROUNDS} rounds, one call at a time):`,
    '',
    markdownTable(
      ['read', 'service', 'floor'],
      [
        [
          'changes feed, no token, `next` to the end',
          cells(sync.service.feed),
          cells(sync.floor.feed),
        ],
        ['the same rows as list pages', cells(sync.service.list), cells(sync.floor.list)],
      ],
      ['l', 'l', 'l'],
    ),
    '',
  ];
}
