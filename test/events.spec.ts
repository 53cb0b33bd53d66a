import { Client } from 'pg';
import { type AppProcess, spawnServingApp } from './support/app-process';
import { openEvents, type ReceivedEvent, type SseConnection } from './support/sse-client';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { signToken } from './support/tokens';

/**
 * Live events and reminders (specification §15) through HTTP, on two app processes sharing one
 * database, as two replicas behind a load balancer would.
 */

const SETTINGS = {
  DATABASE_CONNECT_TIMEOUT_MS: '2000',
  DATABASE_STATEMENT_TIMEOUT_MS: '2000',
  SHUTDOWN_GRACE_MS: '300',
  EVENTS_HEARTBEAT_MS: '1000',
};

const changes = (events: ReceivedEvent[]) =>
  events
    .filter((event) => event.event === 'change')
    .map((event) => JSON.parse(event.data) as { id: string; deleted: boolean; title?: string });
const reminders = (events: ReceivedEvent[]) =>
  events
    .filter((event) => event.event === 'reminder')
    .map((event) => JSON.parse(event.data) as { id: string; title: string });

describe('live events across two replicas', () => {
  let database: TestDatabase;
  let db: Client;
  let apps: AppProcess[];
  let urls: string[];
  const open: SseConnection[] = [];
  const tokens: Record<string, string> = {};

  const token = async (user: string): Promise<string> => (tokens[user] ??= await signToken(user));
  const stream = async (
    app: number,
    user: string,
    headers: Record<string, string> = {},
    query = '',
  ): Promise<SseConnection> => {
    const connection = await openEvents(
      `${urls[app]}/api/${encodeURIComponent(user)}/events${query}`,
      query.includes('ticket=')
        ? headers
        : { Authorization: `Bearer ${await token(user)}`, ...headers },
    );
    open.push(connection);
    if (connection.status === 200) await connection.waitFor((events) => events.length > 0);
    return connection;
  };
  const call = async (
    app: number,
    user: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${urls[app]}/api/${encodeURIComponent(user)}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${await token(user)}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const createTask = async (app: number, user: string, body: Record<string, unknown>) => {
    const { status, json } = await call(app, user, 'POST', '/tasks', body);
    expect(status).toBe(201);
    return json as { id: string; title: string; remind_at: string | null; updated_at: string };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new Client({ connectionString: database.url });
    await db.connect();
    apps = [
      spawnServingApp(database.url, { ...SETTINGS, EVENTS_MAX_STREAMS: '12' }),
      spawnServingApp(database.url, SETTINGS),
    ];
    // Compiled on the fly by ts-node: on a loaded machine that alone can take a minute.
    const lines = await Promise.all(
      apps.map((app) => app.waitForLine(/tasks service listening/, 150_000)),
    );
    urls = lines.map((line) => (JSON.parse(line) as { url: string }).url);
    await Promise.all(apps.map((app) => app.waitForLine(/listening for changes/)));
  }, 180_000);

  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  afterAll(async () => {
    for (const app of apps) if (app.child.exitCode === null) app.child.kill('SIGKILL');
    await Promise.all(apps.map((app) => app.exit));
    await db.end();
    await database.drop();
  });

  it('sends a write answered by one replica to a stream held by the other within 1 s', async () => {
    const onB = await stream(1, 'alice');
    expect(onB.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(onB.events[0]).toMatchObject({ event: 'ready', data: '{}' });
    expect(onB.events[0].id).toEqual(expect.any(String));

    const latencies: number[] = [];
    for (let write = 0; write < 5; write++) {
      const task = await createTask(0, 'alice', { title: `write ${write}` });
      // From the write's answer (specification §15); on a loaded machine the event is often first.
      const answered = performance.now();
      await onB.waitFor((events) => changes(events).some((change) => change.id === task.id), 5000);
      const event = onB.events.find((e) => e.event === 'change' && e.data.includes(task.id));
      latencies.push((event as ReceivedEvent).at - answered);
      // The event carries what the changes feed gives for the write, and a feed token as its id.
      const feed = await call(
        0,
        'alice',
        'GET',
        `/tasks/changes?since=${encodeURIComponent(onB.events[0].id as string)}`,
      );
      const fromFeed = (feed.json.changes as { id: string }[]).find((c) => c.id === task.id);
      expect(JSON.parse((event as ReceivedEvent).data)).toEqual(fromFeed);
    }
    console.log(
      `events figures: from the create's answer by A to its event on B, ms: ${latencies.map(Math.round).join(', ')}`,
    );
    expect(Math.max(...latencies)).toBeLessThan(1000);
    // Another user's writes never reach alice's stream.
    await createTask(0, 'bob', { title: 'not for alice' });
    await createTask(1, 'alice', { title: 'after bob' });
    await onB.waitFor((events) => changes(events).some((c) => c.title === 'after bob'));
    expect(changes(onB.events).map((c) => c.title)).not.toContain('not for alice');
  });

  it('resumes with Last-Event-ID: exactly the changes missed, deletions included', async () => {
    const first = await stream(1, 'carol');
    const kept = await createTask(0, 'carol', { title: 'kept' });
    const doomed = await createTask(0, 'carol', { title: 'doomed' });
    await first.waitFor((events) => changes(events).length === 2);
    const lastId = first.lastEventId() as string;
    first.close();

    // Missed while disconnected: a create, an update, a trashing, a create then trashing.
    const added = await createTask(1, 'carol', { title: 'added' });
    expect(
      (await call(1, 'carol', 'PUT', `/tasks/${kept.id}`, { title: 'kept, renamed' })).status,
    ).toBe(200);
    expect((await call(0, 'carol', 'DELETE', `/tasks/${doomed.id}`)).status).toBe(204);
    const brief = await createTask(0, 'carol', { title: 'brief' });
    expect((await call(1, 'carol', 'DELETE', `/tasks/${brief.id}`)).status).toBe(204);

    const resumed = await stream(0, 'carol', { 'Last-Event-ID': lastId });
    await resumed.waitFor((events) => changes(events).length >= 4);
    // Live again after the replay.
    const live = await createTask(1, 'carol', { title: 'live' });
    await resumed.waitFor((events) => changes(events).some((c) => c.id === live.id));
    const received = changes(resumed.events);
    expect(
      received
        .map(({ id, deleted, title }) => ({ id, deleted, title }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    ).toEqual(
      [
        { id: added.id, deleted: false, title: 'added' },
        { id: kept.id, deleted: false, title: 'kept, renamed' },
        { id: doomed.id, deleted: true, title: undefined },
        { id: brief.id, deleted: true, title: undefined },
        { id: live.id, deleted: false, title: 'live' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );

    // HEAD answers the headers and opens no stream.
    const head = await fetch(`${urls[0]}/api/carol/events`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${await token('carol')}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');

    // An id this service never sent is a 400 before the stream starts.
    const bad = await stream(0, 'carol', { 'Last-Event-ID': 'not-an-id' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({
      code: 'VALIDATION_ERROR',
      errors: [{ field: 'Last-Event-ID' }],
    });
  });

  it('opens a stream with a ticket once, on any replica; a used, expired or foreign ticket is 401', async () => {
    const issued = await call(0, 'dave', 'POST', '/events/tickets');
    expect(issued.status).toBe(201);
    const ticket = issued.json.ticket as string;
    expect(Date.parse(issued.json.expires_at as string) - Date.now()).toBeGreaterThan(50_000);

    const withTicket = await stream(1, 'dave', {}, `?ticket=${ticket}`);
    expect(withTicket.status).toBe(200);
    const task = await createTask(0, 'dave', { title: 'seen through a ticket' });
    await withTicket.waitFor((events) => changes(events).some((c) => c.id === task.id));

    const again = await stream(0, 'dave', {}, `?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toMatchObject({ code: 'INVALID_TOKEN' });

    const another = (await call(0, 'dave', 'POST', '/events/tickets')).json.ticket as string;
    const foreign = await stream(1, 'erin', {}, `?ticket=${another}`);
    expect(foreign.status).toBe(401);
    // Refused to another user, and not used up by the attempt: its owner still opens a stream.
    const ownerUse = await stream(1, 'dave', {}, `?ticket=${another}`);
    expect(ownerUse.status).toBe(200);

    const expiring = (await call(1, 'dave', 'POST', '/events/tickets')).json.ticket as string;
    await db.query(
      `UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE user_id = 'dave'`,
    );
    expect((await stream(0, 'dave', {}, `?ticket=${expiring}`)).status).toBe(401);
    expect((await stream(0, 'dave', {}, '?ticket=made-up')).status).toBe(401);
    const anonymous = await openEvents(`${urls[0]}/api/dave/events`);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body)).toMatchObject({ code: 'MISSING_TOKEN' });
  });

  it('sends a due reminder once to every stream of its owner, on both replicas, within 5 s', async () => {
    const streams = [await stream(0, 'frank'), await stream(1, 'frank'), await stream(1, 'frank')];
    const other = await stream(0, 'grace');
    const due = new Date(Date.now() + 1000).toISOString();
    const reminded = await createTask(0, 'frank', { title: 'call the plumber', remind_at: due });
    expect(reminded.remind_at).toBe(due);
    const completedFirst = await createTask(1, 'frank', { title: 'done before', remind_at: due });
    expect((await call(1, 'frank', 'PATCH', `/tasks/${completedFirst.id}/complete`)).status).toBe(
      200,
    );
    const trashedFirst = await createTask(1, 'frank', { title: 'trashed before', remind_at: due });
    expect((await call(0, 'frank', 'DELETE', `/tasks/${trashedFirst.id}`)).status).toBe(204);

    for (const connection of streams) {
      await connection.waitFor((events) => reminders(events).length > 0, 6000);
    }
    const arrivals = streams.map(
      (c) => (c.events.find((e) => e.event === 'reminder') as ReceivedEvent).at,
    );
    // Time for a second delivery, if there were one: five more claim runs on each replica.
    await new Promise((done) => setTimeout(done, 2500));
    for (const connection of streams) {
      expect(reminders(connection.events)).toEqual([
        expect.objectContaining({ id: reminded.id, title: 'call the plumber' }),
      ]);
    }
    expect(reminders(other.events)).toEqual([]);
    const dueAt = Date.parse(due) - Date.now() + performance.now();
    console.log(
      `events figures: reminder after its due time, ms: ${arrivals.map((at) => Math.round(at - dueAt)).join(', ')}`,
    );
    const { rows } = await db.query(
      `SELECT id, reminded_at IS NOT NULL AS claimed FROM tasks WHERE user_id = 'frank' ORDER BY title`,
    );
    expect(rows).toEqual([
      { id: reminded.id, claimed: true },
      { id: completedFirst.id, claimed: false },
      { id: trashedFirst.id, claimed: false },
    ]);

    // The claim is not a change of the task: neither its updated_at nor its version moved.
    const read = await call(1, 'frank', 'GET', `/tasks/${reminded.id}`);
    expect(read.json).toMatchObject({ updated_at: reminded.updated_at, remind_at: due });
    expect(read.json).toEqual(reminded);

    // Changing remind_at re-arms it.
    const again = new Date(Date.now() + 500).toISOString();
    expect(
      (await call(1, 'frank', 'PUT', `/tasks/${reminded.id}`, { remind_at: again })).status,
    ).toBe(200);
    for (const connection of streams) {
      await connection.waitFor((events) => reminders(events).length === 2, 6000);
    }
    await new Promise((done) => setTimeout(done, 1500));
    for (const connection of streams) expect(reminders(connection.events)).toHaveLength(2);
  }, 30_000);

  it('refuses a bad remind_at with a 400 naming it, and clears it with null', async () => {
    for (const remindAt of [
      'tomorrow',
      '2025-02-30T09:00:00Z',
      '2025-01-01T09:00:00',
      12,
      '1969-12-31T23:59:59Z',
    ]) {
      const { status, json } = await call(0, 'heidi', 'POST', '/tasks', {
        title: 't',
        remind_at: remindAt,
      });
      expect(status).toBe(400);
      expect(json).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ field: 'remind_at' }] });
    }
    const task = await createTask(0, 'heidi', {
      title: 't',
      remind_at: '2030-06-01T10:00:00.123456+02:00',
    });
    expect(task.remind_at).toBe('2030-06-01T08:00:00.123Z');
    const cleared = await call(0, 'heidi', 'PUT', `/tasks/${task.id}`, { remind_at: null });
    expect(cleared.json.remind_at).toBeNull();
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM tasks WHERE user_id = 'heidi'`);
    expect(rows[0].n).toBe(1);
  });

  it('holds at most 10 streams per user (429) and EVENTS_MAX_STREAMS per process (503)', async () => {
    for (let n = 0; n < 10; n++) expect((await stream(0, 'ivan')).status).toBe(200);
    const eleventh = await stream(0, 'ivan');
    expect(eleventh.status).toBe(429);
    expect(eleventh.headers['retry-after']).toEqual(expect.any(String));
    expect(JSON.parse(eleventh.body)).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect((await stream(0, 'judy')).status).toBe(200);
    expect((await stream(0, 'judy')).status).toBe(200);
    const overProcess = await stream(0, 'judy');
    expect(overProcess.status).toBe(503);
    expect(JSON.parse(overProcess.body)).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // The other replica still has room.
    expect((await stream(1, 'judy')).status).toBe(200);
    // A closed stream gives its place back.
    for (const connection of open.splice(0)) connection.close();
    await new Promise((done) => setTimeout(done, 300));
    expect((await stream(0, 'ivan')).status).toBe(200);
  });

  it('catches up after its LISTEN connection is terminated, while writes continue: nothing missed', async () => {
    const onB = await stream(1, 'kate');
    const writes: Promise<{ id: string }>[] = [];
    let killed = 0;
    for (let n = 0; n < 30; n++) {
      writes.push(createTask(0, 'kate', { title: `during ${n}` }));
      if (n === 5 || n === 15) {
        const { rowCount } = await db.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = 'tasks-service-events' AND datname = current_database()`,
        );
        killed += rowCount ?? 0;
      }
      await new Promise((done) => setTimeout(done, 50));
    }
    const created = await Promise.all(writes);
    expect(killed).toBe(4);
    await onB.waitFor(
      (events) => created.every((task) => changes(events).some((c) => c.id === task.id)),
      15_000,
    );
    expect(new Set(changes(onB.events).map((c) => c.id)).size).toBe(30);
    await apps[1].waitForLine(/LISTEN connection restored/);
    // And live again on the new connection.
    const after = await createTask(0, 'kate', { title: 'after' });
    await onB.waitFor((events) => changes(events).some((c) => c.id === after.id), 5000);
  }, 30_000);

  it('ends open streams at once on SIGTERM and exits within the drain', async () => {
    const streams = [await stream(0, 'leo'), await stream(0, 'leo'), await stream(0, 'mia')];
    const signalled = performance.now();
    apps[0].child.kill('SIGTERM');
    const ends = await Promise.all(streams.map((c) => c.ended));
    const exit = await apps[0].exit;
    const exitedAfter = exit.atMs + apps[0].startedAt - signalled;
    console.log(
      `events figures: streams ended ${ends.map((at) => Math.round(at - signalled)).join(', ')} ms after SIGTERM; exit ${exit.code} after ${Math.round(exitedAfter)} ms`,
    );
    // Before the grace period (300 ms) is over: the streams do not wait for the listener to close.
    for (const at of ends) expect(at - signalled).toBeLessThan(300);
    expect(exit.code).toBe(0);
    // Grace 300 ms + drain (connect + statement timeouts, 4,000 ms).
    expect(exitedAfter).toBeLessThan(4300);
  });
});
