import type { Pool, PoolClient } from 'pg';
import { decodeChangeToken, encodeChangeToken } from '../src/owned-resources/feed-token';
import {
  type ChangeRow,
  FEED_START,
  type FeedPosition,
  pageOfChanges,
} from '../src/sync/change-token';
import {
  changesStatement,
  NIL_UUID,
  PURGE_TOMBSTONES,
  purgeTrashStatement,
} from '../src/sync/sync.statements';
import { AddListSync1733300000000 } from '../migrations/1733300000000-add-list-sync';
import { createSyncDatabase, type SyncDatabase, TASK_COLUMNS } from './support/sync-schema';
import { openDataSource } from './support/test-data-source';

const TASKS = {
  table: 'tasks',
  columns: TASK_COLUMNS,
  timestamps: ['created_at', 'updated_at'],
  trash: true,
  texts: ['user_id', 'title', 'description'],
};
const MAX_BYTES = 1024 * 1024;
const FEED = changesStatement(TASKS);

interface FeedRow extends ChangeRow {
  deleted: boolean;
  title: string | null;
  completed: boolean | null;
  version: number | null;
}

interface Copy {
  title: string;
  completed: boolean;
  version: number;
}

/** A client that holds a copy of one owner's tasks, fed only by the changes feed. */
class Replica {
  readonly tasks = new Map<string, Copy>();
  token: string | null = null;
  calls = 0;

  constructor(
    private readonly pool: Pool,
    readonly owner: string,
  ) {}

  /** One call of the feed (one statement); true when the answer says there is more. */
  async pull(limit = 1000): Promise<{ hasMore: boolean; expired: boolean; next: FeedPosition }> {
    const position = this.token ? decodeChangeToken('tasks', this.token) : FEED_START;
    const { rows } = await this.pool.query<FeedRow>(FEED, [
      this.owner,
      position.xid,
      position.id,
      limit,
      this.token !== null,
      MAX_BYTES,
    ]);
    this.calls++;
    if (rows[0].expired) return { hasMore: false, expired: true, next: position };
    const { changes, next, hasMore } = pageOfChanges(rows, limit, MAX_BYTES, position);
    for (const change of changes) {
      if (change.deleted) this.tasks.delete(change.id as string);
      else {
        this.tasks.set(change.id as string, {
          title: change.title as string,
          completed: change.completed as boolean,
          version: change.version as number,
        });
      }
    }
    this.token = encodeChangeToken('tasks', next);
    return { hasMore, expired: false, next };
  }

  async pullAll(limit = 1000): Promise<void> {
    while ((await this.pull(limit)).hasMore);
  }
}

async function serverCopy(pool: Pool, owner: string): Promise<Map<string, Copy>> {
  const { rows } = await pool.query<Copy & { id: string }>(
    `SELECT id, title, completed, version FROM tasks WHERE user_id = $1 AND deleted_at IS NULL`,
    [owner],
  );
  return new Map(rows.map(({ id, ...copy }) => [id, copy]));
}

const sorted = (copy: Map<string, Copy>) =>
  [...copy.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// specification §10: a feed that never skips a change, whatever the order of commits.
describe('changes feed (SQL)', () => {
  let db: SyncDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createSyncDatabase();
    pool = db.pool;
  });
  afterAll(() => db.close());

  const insert = (client: Pool | PoolClient, owner: string, title: string) =>
    client
      .query<{ id: string; change_xid: string }>(
        `INSERT INTO tasks (user_id, title) VALUES ($1, $2) RETURNING id, change_xid::text`,
        [owner, title],
      )
      .then(({ rows }) => rows[0]);

  it('stamps each row with the transaction that last wrote it', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const created = await insert(client, 'stamp', 'one');
      const {
        rows: [{ xid }],
      } = await client.query<{ xid: string }>(`SELECT pg_current_xact_id()::text AS xid`);
      expect(created.change_xid).toBe(xid);
      await client.query('COMMIT');
      const {
        rows: [updated],
      } = await pool.query<{ change_xid: string }>(
        `UPDATE tasks SET title = 'two' WHERE id = $1 RETURNING change_xid::text`,
        [created.id],
      );
      expect(BigInt(updated.change_xid)).toBeGreaterThan(BigInt(xid));
    } finally {
      client.release();
    }
  });

  it('starts with every live task, then reports creates, edits, trash, restore and deletes', async () => {
    const owner = 'lifecycle';
    const [kept, trashed, purged] = [
      await insert(pool, owner, 'kept'),
      await insert(pool, owner, 'trashed'),
      await insert(pool, owner, 'purged'),
    ];
    await pool.query(`UPDATE tasks SET deleted_at = now() WHERE id = $1`, [trashed.id]);
    await insert(pool, 'someone-else', 'not mine');

    const replica = new Replica(pool, owner);
    await replica.pull();
    // A first sync lists live tasks only: no tombstones, nothing trashed, nobody else's.
    expect([...replica.tasks.keys()].sort()).toEqual([kept.id, purged.id].sort());

    await pool.query(`UPDATE tasks SET completed = true, version = version + 1 WHERE id = $1`, [
      kept.id,
    ]);
    await pool.query(`DELETE FROM tasks WHERE id = $1`, [purged.id]);
    await pool.query(`UPDATE tasks SET deleted_at = NULL, version = version + 1 WHERE id = $1`, [
      trashed.id,
    ]);
    const created = await insert(pool, owner, 'new');
    await replica.pull();
    expect(sorted(replica.tasks)).toEqual(sorted(await serverCopy(pool, owner)));
    expect(replica.tasks.get(kept.id)).toMatchObject({ completed: true, version: 2 });
    expect(replica.tasks.has(created.id)).toBe(true);
    expect(replica.tasks.has(purged.id)).toBe(false);

    // Trash is reported as a deletion; the purge of the trash as one again (harmless).
    await pool.query(`UPDATE tasks SET deleted_at = now() - interval '40 days' WHERE id = $1`, [
      created.id,
    ]);
    await replica.pull();
    expect(replica.tasks.has(created.id)).toBe(false);
    const { rows: purgedRows } = await pool.query(purgeTrashStatement('tasks'), [30, 100]);
    expect(purgedRows).toEqual([{ id: created.id }]);
    await replica.pull();
    expect(sorted(replica.tasks)).toEqual(sorted(await serverCopy(pool, owner)));
  });

  it('never skips a transaction that commits after a later one', async () => {
    const owner = 'late-commit';
    const replica = new Replica(pool, owner);
    await replica.pull();

    const slow = await pool.connect();
    try {
      await slow.query('BEGIN');
      const late = await insert(slow, owner, 'written first, committed last');
      const early = await insert(pool, owner, 'written second, committed first');
      // The order a timestamp or "highest id seen" watermark gets wrong.
      expect(BigInt(late.change_xid)).toBeLessThan(BigInt(early.change_xid));

      await replica.pull();
      expect([...replica.tasks.keys()]).toEqual([early.id]);
      const position = decodeChangeToken('tasks', replica.token as string);
      expect(BigInt(position.xid)).toBeLessThanOrEqual(BigInt(late.change_xid));

      await slow.query('COMMIT');
      await replica.pull();
      expect([...replica.tasks.keys()].sort()).toEqual([early.id, late.id].sort());
    } finally {
      slow.release();
    }
  });

  it('pages by (transaction, id), and a page never moves past a running transaction', async () => {
    const owner = 'pages';
    for (let n = 0; n < 10; n++) await insert(pool, owner, `task ${n}`);
    const replica = new Replica(pool, owner);
    const answers: boolean[] = [];
    for (;;) {
      const { hasMore } = await replica.pull(3);
      answers.push(hasMore);
      if (!hasMore) break;
    }
    expect(answers).toEqual([true, true, true, false]);
    expect(replica.tasks.size).toBe(10);

    // A transaction that holds the xmin back: the rows committed after it can be sent, but the
    // position stays below it, so the client is told to come back rather than to page on.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_current_xact_id()');
      for (let n = 0; n < 5; n++) await insert(pool, owner, `after ${n}`);
      const before = decodeChangeToken('tasks', replica.token as string);
      const stalled = await replica.pull(2);
      expect(stalled).toMatchObject({ hasMore: false, next: before });
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    await replica.pullAll(2);
    expect(sorted(replica.tasks)).toEqual(sorted(await serverCopy(pool, owner)));
  });

  it('answers expired to a token older than the purged tombstones, and only to those', async () => {
    const owner = 'expiry';
    const gone = await insert(pool, owner, 'deleted long ago');
    const old = new Replica(pool, owner);
    await old.pull();
    await pool.query(`DELETE FROM tasks WHERE id = $1`, [gone.id]);
    await pool.query(
      `UPDATE tombstones SET deleted_at = now() - interval '31 days' WHERE id = $1`,
      [gone.id],
    );
    const { rows } = await pool.query(PURGE_TOMBSTONES, [30, 1000]);
    expect(rows).toEqual([{ purged: 1 }]);

    expect((await old.pull()).expired).toBe(true);
    const fresh = new Replica(pool, owner);
    await fresh.pull();
    expect((await fresh.pull()).expired).toBe(false);
  });

  it('hands out opaque tokens and refuses altered or foreign ones', () => {
    const position = { xid: '123456789012', id: '0b0f9d3c-8a1e-4a57-9d62-0f5a5d6c9b11' };
    const token = encodeChangeToken('tasks', position);
    expect(decodeChangeToken('tasks', token)).toEqual(position);
    const flipped = (at: number) =>
      `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    for (const bad of [
      ...Array.from({ length: token.length }, (_, at) => flipped(at)),
      Buffer.from(JSON.stringify(['tasks', '1', NIL_UUID])).toString('base64url'),
      encodeChangeToken('lists', position),
      encodeChangeToken('tasks', { xid: '-1', id: NIL_UUID }),
      encodeChangeToken('tasks', { xid: '99999999999999999999', id: NIL_UUID }),
      encodeChangeToken('tasks', { xid: '1', id: 'not-a-uuid' }),
      token.slice(0, -1),
      'x'.repeat(300),
      `${Buffer.from('{"not":"an array"}').toString('base64url')}.AAAAAAAAAAAA`,
    ]) {
      expect(() => decodeChangeToken('tasks', bad)).toThrow(/since is not a token/);
    }
  });

  // The proof of §10: concurrent creates, edits, toggles, trash, restores and deletes, each in a
  // transaction that stays open a little while, so commits land out of transaction-id order;
  // a client polls all along with small pages. At the end its copy equals the server's rows.
  it('keeps a polling replica equal to the server under concurrent writers (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const owner = `race-${round}`;
      const replica = new Replica(pool, owner);
      await replica.pull(5);
      let writing = true;
      const ids: string[] = [];
      const pick = () => ids[Math.floor(Math.random() * ids.length)];

      const writer = async (seed: number) => {
        const client = await pool.connect();
        try {
          for (let step = 0; step < 25; step++) {
            await client.query('BEGIN');
            const choice = ids.length < 3 ? 0 : (seed + step * 7) % 6;
            const id = pick();
            if (choice === 0) ids.push((await insert(client, owner, `w${seed}-${step}`)).id);
            else if (choice === 1) {
              await client.query(
                `UPDATE tasks SET title = $2, version = version + 1 WHERE id = $1`,
                [id, `edit ${seed}-${step}`],
              );
            } else if (choice === 2) {
              await client.query(
                `UPDATE tasks SET completed = NOT completed, version = version + 1 WHERE id = $1`,
                [id],
              );
            } else if (choice === 3) {
              await client.query(
                `UPDATE tasks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`,
                [id],
              );
            } else if (choice === 4) {
              await client.query(
                `UPDATE tasks SET deleted_at = NULL, version = version + 1
                  WHERE id = $1 AND deleted_at IS NOT NULL`,
                [id],
              );
            } else await client.query(`DELETE FROM tasks WHERE id = $1`, [id]);
            await sleep(Math.random() * 8);
            await client.query('COMMIT');
          }
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        } finally {
          client.release();
        }
      };
      const poller = async () => {
        while (writing) {
          await replica.pull(5);
          await sleep(Math.random() * 3);
        }
      };

      const polling = poller();
      await Promise.all([1, 2, 3, 4].map(writer));
      writing = false;
      await polling;
      await replica.pullAll(5);
      expect(sorted(replica.tasks)).toEqual(sorted(await serverCopy(pool, owner)));
      expect(replica.calls).toBeGreaterThan(3);
    }
  }, 120_000);
});

// Lists (their table, and tasks.list_id, come with CreateLists1733000000000): deleting a
// list deletes its tasks through the foreign key, and both feeds report every deletion.
describe('changes feed of lists, and a list deleted with its tasks', () => {
  let db: SyncDatabase;

  beforeAll(async () => {
    db = await createSyncDatabase();
  });
  afterAll(() => db.close());

  it('reports a list deleted with its tasks in both feeds', async () => {
    const dataSource = await openDataSource(db.database.url);
    const queryRunner = dataSource.createQueryRunner();
    const migration = new AddListSync1733300000000();
    try {
      const pool = db.pool;
      const LISTS = {
        table: 'lists',
        columns: ['id', 'user_id', 'name'],
        timestamps: [],
        trash: false,
        texts: ['user_id', 'name'],
      };
      const feed = async (resource: typeof LISTS | typeof TASKS, since: FeedPosition | null) => {
        const position = since ?? FEED_START;
        const { rows } = await pool.query<FeedRow>(changesStatement(resource), [
          'lena',
          position.xid,
          position.id,
          100,
          since !== null,
          MAX_BYTES,
        ]);
        return pageOfChanges(rows, 100, MAX_BYTES, position);
      };
      const {
        rows: [list],
      } = await pool.query<{ id: string }>(
        `INSERT INTO lists (user_id, name) VALUES ('lena', 'Groceries') RETURNING id`,
      );
      const { rows: tasks } = await pool.query<{ id: string }>(
        `INSERT INTO tasks (user_id, title, list_id)
         SELECT 'lena', 'item ' || n, $1 FROM generate_series(1, 3) n RETURNING id`,
        [list.id],
      );
      const listsFirst = await feed(LISTS, null);
      expect(listsFirst.changes.map((change) => change.id)).toEqual([list.id]);
      const tasksFirst = await feed(TASKS, null);
      expect(tasksFirst.changes).toHaveLength(3);

      await pool.query(`DELETE FROM lists WHERE id = $1`, [list.id]);
      const listsAfter = await feed(LISTS, listsFirst.next);
      expect(listsAfter.changes).toEqual([expect.objectContaining({ id: list.id, deleted: true })]);
      const tasksAfter = await feed(TASKS, tasksFirst.next);
      expect(tasksAfter.changes.map((change) => [change.id, change.deleted]).sort()).toEqual(
        tasks.map((task) => [task.id, true]).sort(),
      );

      await migration.down(queryRunner);
      const [{ triggers }] = (await queryRunner.query(
        `SELECT count(*)::int AS triggers FROM pg_trigger WHERE tgrelid = 'lists'::regclass AND tgname IN ('stamp_lists_change_xid', 'record_lists_tombstone')`,
      )) as { triggers: number }[];
      expect(triggers).toBe(0);
    } finally {
      await queryRunner.release();
      await dataSource.destroy();
    }
  });
});
