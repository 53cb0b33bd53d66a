import request from 'supertest';
import { StatementRecorder } from './support/statement-recorder';
import { startTestApp, TestApp } from './support/test-app';
import { expectProblem, fieldErrors } from './support/problem';
import { bearer, signToken } from './support/tokens';

interface WireTask {
  id: string;
  title: string;
  description: string | null;
  completed: boolean;
  list_id: string | null;
  priority: string;
  due_date: string | null;
  due_time: string | null;
  time_zone: string | null;
  due_at: string | null;
  tags: string[];
  recurrence: string | null;
  next_id: string | null;
  remind_at?: string | null;
  version?: number;
}

const recorder = new StatementRecorder();

// Recurring tasks through HTTP: the next occurrence, exactly once, in the completing statement.
describe('recurring tasks', () => {
  let testApp: TestApp;
  const server = () => testApp.app.getHttpServer();
  let owner = 0;
  /** A user of its own for each test. */
  async function newUser() {
    owner += 1;
    const userId = `recurring-${owner}`;
    const auth = bearer(await signToken(userId));
    const tasks = `/api/${userId}/tasks`;
    const create = async (body: object): Promise<WireTask> =>
      (await request(server()).post(tasks).set(auth).send(body).expect(201)).body as WireTask;
    const get = async (id: string): Promise<WireTask> =>
      (await request(server()).get(`${tasks}/${id}`).set(auth).expect(200)).body as WireTask;
    const toggle = async (id: string): Promise<WireTask> =>
      (await request(server()).patch(`${tasks}/${id}/complete`).set(auth).expect(200))
        .body as WireTask;
    const all = async (): Promise<WireTask[]> =>
      (await request(server()).get(tasks).set(auth).expect(200)).body as WireTask[];
    return { userId, auth, tasks, create, get, toggle, all };
  }

  beforeAll(async () => {
    recorder.start();
    testApp = await startTestApp();
  });
  afterAll(async () => {
    recorder.stop();
    await testApp.close();
  });

  it('completing a monthly last-day task due Jan 31 creates the next one due Feb 28, a copy', async () => {
    const user = await newUser();
    const list = (
      await request(server())
        .post(`/api/${user.userId}/lists`)
        .set(user.auth)
        .send({ name: 'Home' })
        .expect(201)
    ).body as { id: string };
    const rent = await user.create({
      title: 'Pay rent',
      description: 'Transfer to the landlord',
      priority: 'high',
      tags: ['money'],
      list_id: list.id,
      due_date: '2025-01-31',
      recurrence: 'FREQ=MONTHLY;BYMONTHDAY=-1',
    });
    expect(rent).toMatchObject({ recurrence: 'FREQ=MONTHLY;BYMONTHDAY=-1', next_id: null });

    const completed = await user.toggle(rent.id);
    expect(completed.completed).toBe(true);
    expect(completed.next_id).toEqual(expect.any(String));
    const next = await user.get(completed.next_id!);
    expect(next).toMatchObject({
      title: 'Pay rent',
      description: 'Transfer to the landlord',
      priority: 'high',
      tags: ['money'],
      list_id: list.id,
      completed: false,
      due_date: '2025-02-28',
      due_time: null,
      time_zone: null,
      due_at: null,
      recurrence: 'FREQ=MONTHLY;BYMONTHDAY=-1',
      next_id: null,
    });
    // And then March 31.
    const february = await user.toggle(next.id);
    expect((await user.get(february.next_id!)).due_date).toBe('2025-03-31');
  });

  it('keeps 09:00 in Europe/Berlin across the March change to summer time', async () => {
    const user = await newUser();
    let task = await user.create({
      title: 'Take the pills',
      due_date: '2025-03-29',
      due_time: '09:00',
      time_zone: 'Europe/Berlin',
      recurrence: 'FREQ=DAILY',
    });
    expect(task.due_at).toBe('2025-03-29T08:00:00.000Z');
    const seen: Array<[string | null, string | null, string | null]> = [];
    for (let day = 0; day < 2; day += 1) {
      task = await user.get((await user.toggle(task.id)).next_id!);
      seen.push([task.due_date, task.due_time, task.due_at]);
    }
    expect(seen).toEqual([
      ['2025-03-30', '09:00', '2025-03-30T07:00:00.000Z'],
      ['2025-03-31', '09:00', '2025-03-31T07:00:00.000Z'],
    ]);
  });

  it('counts down COUNT and creates nothing after the last occurrence', async () => {
    const user = await newUser();
    const first = await user.create({
      title: 'Three sessions',
      due_date: '2025-01-06',
      recurrence: 'FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3',
    });
    const second = await user.get((await user.toggle(first.id)).next_id!);
    expect(second).toMatchObject({
      due_date: '2025-01-08',
      recurrence: 'FREQ=WEEKLY;BYDAY=MO,WE;COUNT=2',
    });
    const third = await user.get((await user.toggle(second.id)).next_id!);
    expect(third).toMatchObject({
      due_date: '2025-01-13',
      recurrence: 'FREQ=WEEKLY;BYDAY=MO,WE;COUNT=1',
    });
    const last = await user.toggle(third.id);
    expect(last).toMatchObject({ completed: true, next_id: null });
    expect(await user.all()).toHaveLength(3);
  });

  it('20 concurrent completions of one task create one next occurrence', async () => {
    const user = await newUser();
    const task = await user.create({
      title: 'Gym',
      due_date: '2025-01-06',
      due_time: '18:00',
      time_zone: 'Europe/Paris',
      recurrence: 'FREQ=WEEKLY;BYDAY=MO,WE',
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        request(server())
          .put(`${user.tasks}/${task.id}`)
          .set(user.auth)
          .send({ completed: true })
          .expect(200),
      ),
    );
    const nextIds = new Set(answers.map((answer) => (answer.body as WireTask).next_id));
    expect(nextIds.size).toBe(1);
    const tasks = await user.all();
    expect(tasks).toHaveLength(2);
    expect(tasks.find((other) => other.id !== task.id)).toMatchObject({
      id: [...nextIds][0],
      due_date: '2025-01-08',
      due_time: '18:00',
      completed: false,
    });
  });

  it('20 concurrent toggles, and uncompleting then completing again, still create one', async () => {
    const user = await newUser();
    const task = await user.create({
      title: 'Water the plants',
      due_date: '2025-01-01',
      recurrence: 'FREQ=DAILY',
    });
    await Promise.all(Array.from({ length: 20 }, () => user.toggle(task.id)));
    await user.toggle(task.id); // 21 toggles: completed
    expect((await user.get(task.id)).completed).toBe(true);
    const next = (await user.get(task.id)).next_id;
    expect(next).not.toBeNull();
    expect(await user.all()).toHaveLength(2);
    expect((await user.toggle(task.id)).next_id).toBe(next);
    expect((await user.toggle(task.id)).next_id).toBe(next);
    expect(await user.all()).toHaveLength(2);
  });

  it('bulk completion of 100 recurring tasks creates 100, in one statement', async () => {
    const user = await newUser();
    const ids: string[] = [];
    for (let index = 0; index < 100; index += 1) {
      const task = await user.create({
        title: `Chore ${index}`,
        due_date: '2025-01-01',
        recurrence: 'FREQ=DAILY',
      });
      ids.push(task.id);
    }
    const sent = await recorder.sentBy(
      request(server()).patch(user.tasks).set(user.auth).send({ ids, completed: true }),
      200,
    );
    expect(sent).toHaveLength(1);
    const tasks = await user.all();
    expect(tasks).toHaveLength(200);
    const created = tasks.filter((task) => !ids.includes(task.id));
    expect(created.every((task) => task.due_date === '2025-01-02' && !task.completed)).toBe(true);
    expect(new Set(created.map((task) => task.title)).size).toBe(100);
    // Again: nothing more.
    await request(server())
      .patch(user.tasks)
      .set(user.auth)
      .send({ ids, completed: true })
      .expect(200);
    expect(await user.all()).toHaveLength(200);
  });

  it('the toggle of a recurring task is one round trip; the feed reports both tasks', async () => {
    const user = await newUser();
    const task = await user.create({
      title: 'Daily',
      due_date: '2025-01-01',
      recurrence: 'FREQ=DAILY',
    });
    const start = (await request(server()).get(`${user.tasks}/changes`).set(user.auth).expect(200))
      .body as { next: string };
    const sent = await recorder.sentBy(
      request(server()).patch(`${user.tasks}/${task.id}/complete`).set(user.auth),
      200,
    );
    expect(sent).toHaveLength(1);
    const changes = (
      await request(server())
        .get(`${user.tasks}/changes?since=${encodeURIComponent(start.next)}`)
        .set(user.auth)
        .expect(200)
    ).body as { changes: WireTask[] };
    const completed = await user.get(task.id);
    expect(changes.changes.map((change) => change.id).sort()).toEqual(
      [task.id, completed.next_id].sort(),
    );
  });

  it('refuses bad rules, rules without a due date or without a next occurrence, with 400', async () => {
    const user = await newUser();
    for (const [body, message] of [
      [{ due_date: '2025-01-01', recurrence: 'FREQ=SOMETIMES' }, 'DAILY, WEEKLY'],
      [{ due_date: '2025-01-01', recurrence: 'RRULE:FREQ=DAILY' }, 'RFC 5545'],
      [{ recurrence: 'FREQ=DAILY' }, 'needs a due_date'],
      [{ due_date: '2025-01-01', recurrence: 'FREQ=DAILY;COUNT=1' }, 'no occurrence after'],
      [{ due_date: '2025-01-01', recurrence: 'FREQ=DAILY;UNTIL=20241231' }, 'no occurrence after'],
      [
        { due_date: '2025-01-01', recurrence: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30' },
        'no occurrence after',
      ],
      [{ due_date: '2025-01-01', recurrence: 42 }, 'recurrence must be a text'],
    ] as const) {
      const response = await request(server())
        .post(user.tasks)
        .set(user.auth)
        .send({ title: 'Bad', ...body })
        .expect(400);
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual([expect.stringMatching(`^recurrence: .*${message}`)]);
    }
    expect(await user.all()).toHaveLength(0);
  });

  it('an update changes the schedule as a whole; clearing recurrence stops it', async () => {
    const user = await newUser();
    const task = await user.create({
      title: 'Weekly',
      due_date: '2025-01-06',
      recurrence: 'FREQ=WEEKLY',
    });
    const path = `${user.tasks}/${task.id}`;
    // Only the date: the stored occurrences would be stale.
    let response = await request(server())
      .put(path)
      .set(user.auth)
      .send({ due_date: '2025-01-07' })
      .expect(400);
    expect(fieldErrors(response)).toEqual([
      expect.stringMatching(/^recurrence: .*send recurrence with due_date/),
    ]);
    response = await request(server())
      .put(path)
      .set(user.auth)
      .send({ recurrence: 'FREQ=DAILY' })
      .expect(400);
    expect(fieldErrors(response)).toEqual([
      expect.stringMatching(/^recurrence: send due_date, due_time and time_zone with recurrence/),
    ]);
    // The whole schedule: the next occurrence follows it.
    const moved = (
      await request(server())
        .put(path)
        .set(user.auth)
        .send({
          due_date: '2025-01-07',
          due_time: '07:30',
          time_zone: 'Asia/Tokyo',
          recurrence: 'FREQ=DAILY;COUNT=5',
        })
        .expect(200)
    ).body as WireTask;
    expect(moved.recurrence).toBe('FREQ=DAILY;COUNT=5');
    const completed = (
      await request(server())
        .put(path)
        .set(user.auth)
        .send({ completed: true, title: 'Daily now' })
        .expect(200)
    ).body as WireTask;
    expect(await user.get(completed.next_id!)).toMatchObject({
      title: 'Daily now',
      due_date: '2025-01-08',
      due_time: '07:30',
      time_zone: 'Asia/Tokyo',
      recurrence: 'FREQ=DAILY;COUNT=4',
    });
    // A plain task's dates change freely; recurrence: null stops a series.
    const plain = await user.create({ title: 'Plain', due_date: '2025-01-01' });
    await request(server())
      .put(`${user.tasks}/${plain.id}`)
      .set(user.auth)
      .send({ due_date: '2025-01-02' })
      .expect(200);
    const stopped = await user.create({
      title: 'Stop me',
      due_date: '2025-01-01',
      recurrence: 'FREQ=DAILY',
    });
    await request(server())
      .put(`${user.tasks}/${stopped.id}`)
      .set(user.auth)
      .send({ recurrence: null })
      .expect(200);
    expect((await user.toggle(stopped.id)).next_id).toBeNull();
  });

  it('a long series refills its precomputed occurrences and goes on', async () => {
    const user = await newUser();
    let task = await user.create({
      title: 'Every day',
      due_date: '2025-01-01',
      recurrence: 'FREQ=DAILY',
    });
    for (let day = 0; day < 70; day += 1) {
      const completed = await user.toggle(task.id);
      expect(completed.next_id).not.toBeNull();
      task = await user.get(completed.next_id!);
    }
    expect(task.due_date).toBe('2025-03-12');
  });
  it('idempotent creates replay the rule; trash and restore keep it; another user cannot complete it', async () => {
    const user = await newUser();
    const body = {
      title: 'Weekly review',
      due_date: '2025-01-03',
      recurrence: 'FREQ=WEEKLY;COUNT=4',
    };
    const first = await request(server())
      .post(user.tasks)
      .set(user.auth)
      .set('Idempotency-Key', 'review-1')
      .send(body)
      .expect(201);
    const replay = await request(server())
      .post(user.tasks)
      .set(user.auth)
      .set('Idempotency-Key', 'review-1')
      .send(body)
      .expect(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.body).toMatchObject({ recurrence: 'FREQ=WEEKLY;COUNT=4', next_id: null });
    const id = (first.body as WireTask).id;

    const stranger = await newUser();
    await request(server())
      .patch(`/api/${user.userId}/tasks/${id}/complete`)
      .set(stranger.auth)
      .expect(403);
    await request(server())
      .patch(`${stranger.tasks}/${id}/complete`)
      .set(stranger.auth)
      .expect(404);
    expect(await stranger.all()).toHaveLength(0);

    await request(server()).delete(`${user.tasks}/${id}`).set(user.auth).expect(204);
    await request(server()).patch(`${user.tasks}/${id}/complete`).set(user.auth).expect(404);
    const trashed = (
      await request(server()).get(`${user.tasks}?trashed=true`).set(user.auth).expect(200)
    ).body as WireTask[];
    expect(trashed).toMatchObject([{ id, recurrence: 'FREQ=WEEKLY;COUNT=4', next_id: null }]);
    await request(server()).post(`${user.tasks}/${id}/restore`).set(user.auth).expect(200);
    const next = await user.get((await user.toggle(id)).next_id!);
    expect(next).toMatchObject({ due_date: '2025-01-10', recurrence: 'FREQ=WEEKLY;COUNT=3' });
  });
  it('the next occurrence carries the reminder at the same offset from its due time', async () => {
    const user = await newUser();
    // 30 minutes before 09:00 Berlin (08:00Z in winter); the next day is in summer time.
    const timed = await user.create({
      title: 'Pills',
      due_date: '2025-03-29',
      due_time: '09:00',
      time_zone: 'Europe/Berlin',
      recurrence: 'FREQ=DAILY',
      remind_at: '2025-03-29T07:30:00Z',
    });
    const nextTimed = await user.get((await user.toggle(timed.id)).next_id!);
    expect(nextTimed).toMatchObject({
      due_at: '2025-03-30T07:00:00.000Z',
      remind_at: '2025-03-30T06:30:00.000Z',
    });
    const allDay = await user.create({
      title: 'Rent',
      due_date: '2025-01-31',
      recurrence: 'FREQ=MONTHLY;BYMONTHDAY=-1',
      remind_at: '2025-01-30T18:00:00Z',
    });
    const nextAllDay = await user.get((await user.toggle(allDay.id)).next_id!);
    expect(nextAllDay).toMatchObject({
      due_date: '2025-02-28',
      remind_at: '2025-02-27T18:00:00.000Z',
    });
    const none = await user.create({
      title: 'No reminder',
      due_date: '2025-01-01',
      recurrence: 'FREQ=DAILY',
    });
    expect((await user.get((await user.toggle(none.id)).next_id!)).remind_at).toBeNull();
  });
});
