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
  priority: string;
  due_date: string | null;
  due_time: string | null;
  time_zone: string | null;
  due_at: string | null;
  tags: string[];
  created_at: string;
}

const recorder = new StatementRecorder();

// Specification §13 through HTTP: priority, due dates in time zones, tags, filters, sorts, search.
describe('organising tasks', () => {
  let testApp: TestApp;
  const server = () => testApp.app.getHttpServer();
  let owner = 0;
  /** A user of its own for each test: lists and tags start empty. */
  async function newUser() {
    owner += 1;
    const userId = `organiser-${owner}`;
    const auth = bearer(await signToken(userId));
    const tasks = `/api/${userId}/tasks`;
    const create = async (body: object): Promise<WireTask> =>
      (await request(server()).post(tasks).set(auth).send(body).expect(201)).body as WireTask;
    const list = async (query: string): Promise<WireTask[]> =>
      (await request(server()).get(`${tasks}?${query}`).set(auth).expect(200)).body as WireTask[];
    const titles = async (query: string): Promise<string[]> =>
      (await list(query)).map((task) => task.title);
    return { userId, auth, tasks, create, list, titles, tags: `/api/${userId}/tags` };
  }

  beforeAll(async () => {
    recorder.start();
    testApp = await startTestApp();
  });
  afterAll(async () => {
    recorder.stop();
    await testApp.close();
  });

  describe('the fields', () => {
    it('a task created with title only has the defaults, and keeps them through a plain update', async () => {
      const user = await newUser();
      const task = await user.create({ title: 'Plain' });
      expect(task).toMatchObject({
        priority: 'none',
        due_date: null,
        due_time: null,
        time_zone: null,
        due_at: null,
        tags: [],
      });
      const organised = await user.create({
        title: 'Organised',
        priority: 'high',
        due_date: '2025-07-01',
        due_time: '09:00',
        time_zone: 'Europe/Berlin',
        tags: ['  work ', 'Errands'],
      });
      expect(organised).toMatchObject({
        priority: 'high',
        due_date: '2025-07-01',
        due_time: '09:00',
        time_zone: 'Europe/Berlin',
        due_at: '2025-07-01T07:00:00.000Z',
        tags: ['Errands', 'work'],
      });
      const renamed = await request(server())
        .put(`${user.tasks}/${organised.id}`)
        .set(user.auth)
        .send({ title: 'Renamed', completed: true })
        .expect(200);
      const unchanged: Partial<WireTask & { updated_at: string }> = { ...organised };
      delete unchanged.updated_at;
      expect(renamed.body).toMatchObject({ ...unchanged, title: 'Renamed', completed: true });
    });

    it('an update of the time or the zone alone moves due_at; clearing them makes it all-day', async () => {
      const user = await newUser();
      const task = await user.create({
        title: 'Call',
        due_date: '2025-01-15',
        due_time: '09:30',
        time_zone: 'America/New_York',
      });
      expect(task.due_at).toBe('2025-01-15T14:30:00.000Z');
      const put = (body: object) =>
        request(server()).put(`${user.tasks}/${task.id}`).set(user.auth).send(body);
      expect((await put({ due_time: '10:00' }).expect(200)).body.due_at).toBe(
        '2025-01-15T15:00:00.000Z',
      );
      // The zone's name is taken in any case and stored as the zone database spells it.
      const moved = (await put({ time_zone: 'asia/tokyo' }).expect(200)).body as WireTask;
      expect(moved).toMatchObject({ time_zone: 'Asia/Tokyo', due_at: '2025-01-15T01:00:00.000Z' });
      expect((await put({ due_date: '2025-01-16' }).expect(200)).body.due_at).toBe(
        '2025-01-16T01:00:00.000Z',
      );
      const allDay = (await put({ due_time: null, time_zone: null }).expect(200)).body;
      expect(allDay).toMatchObject({ due_date: '2025-01-16', due_time: null, due_at: null });
      const undated = (await put({ due_date: null }).expect(200)).body;
      expect(undated).toMatchObject({ due_date: null, due_at: null });
    });

    it.each([
      ['Europe/Berlin', '2025-10-26', '02:30', '2025-10-26T00:30:00.000Z'],
      ['America/New_York', '2025-11-02', '01:30', '2025-11-02T05:30:00.000Z'],
      ['Europe/Berlin', '2025-03-30', '01:59', '2025-03-30T00:59:00.000Z'],
      ['Europe/Berlin', '2025-03-30', '03:00', '2025-03-30T01:00:00.000Z'],
      ['America/New_York', '2025-03-09', '03:00', '2025-03-09T07:00:00.000Z'],
    ])(
      'in %s, %s %s (a DST overlap takes the earlier instant) is %s',
      async (zone, date, time, instant) => {
        const user = await newUser();
        const task = await user.create({
          title: 'Due',
          due_date: date,
          due_time: time,
          time_zone: zone,
        });
        expect(task.due_at).toBe(instant);
      },
    );

    it.each([
      ['Europe/Berlin', '2025-03-30', '02:30'],
      ['Europe/Berlin', '2025-03-30', '02:00'],
      ['America/New_York', '2025-03-09', '02:30'],
    ])(
      'in %s, %s %s falls in a DST gap: 400 on due_time, nothing stored',
      async (zone, date, time) => {
        const user = await newUser();
        const refused = await request(server())
          .post(user.tasks)
          .set(user.auth)
          .send({ title: 'Gap', due_date: date, due_time: time, time_zone: zone });
        expectProblem(refused, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(refused)).toEqual([
          expect.stringMatching(/^due_time: .*daylight-saving/),
        ]);
        // The same by an update of one field: the gap is found from the stored date and zone.
        const task = await user.create({
          title: 'Before',
          due_date: date,
          due_time: '12:00',
          time_zone: zone,
        });
        const update = await request(server())
          .put(`${user.tasks}/${task.id}`)
          .set(user.auth)
          .send({ due_time: time });
        expectProblem(update, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(update)).toEqual([expect.stringMatching(/^due_time: /)]);
        expect(await user.titles('')).toEqual(['Before']);
      },
    );

    it.each([
      [{ due_date: '2025-02-29' }, 'due_date'],
      [{ due_date: '2024-02-30' }, 'due_date'],
      [{ due_date: '2025-13-01' }, 'due_date'],
      [{ due_date: '0000-01-01' }, 'due_date'],
      [{ due_date: '2025-1-5' }, 'due_date'],
      [{ due_date: '2025-01-05T00:00:00Z' }, 'due_date'],
      [{ due_date: '2025-01-05', due_time: '24:00', time_zone: 'UTC' }, 'due_time'],
      [{ due_date: '2025-01-05', due_time: '9:30', time_zone: 'UTC' }, 'due_time'],
      [{ due_date: '2025-01-05', due_time: '09:30:00', time_zone: 'UTC' }, 'due_time'],
      [{ due_time: '09:30', time_zone: 'UTC' }, 'due_time'],
      [{ due_date: '2025-01-05', due_time: '09:30' }, 'due_time'],
      [{ due_date: '2025-01-05', time_zone: 'Europe/Berlin' }, 'time_zone'],
      [{ due_date: '2025-01-05', due_time: '09:30', time_zone: 'Mars/Olympus' }, 'time_zone'],
      [{ due_date: '2025-01-05', due_time: '09:30', time_zone: 'CEST+2' }, 'time_zone'],
      [{ due_date: '2025-01-05', due_time: '09:30', time_zone: '' }, 'time_zone'],
      [{ priority: 'urgent' }, 'priority'],
      [{ priority: null }, 'priority'],
      [{ tags: null }, 'tags'],
      [{ tags: 'work' }, 'tags'],
      [{ tags: ['   '] }, 'tags'],
      [{ tags: ['x'.repeat(65)] }, 'tags'],
      [{ tags: ['line\nbreak'] }, 'tags'],
      [{ tags: ['bell\u0007'] }, 'tags'],
      [{ tags: [3] }, 'tags'],
      [{ tags: Array.from({ length: 21 }, (_, i) => `tag ${i}`) }, 'tags'],
    ])('refuses %j on %s, and stores nothing', async (fields, field) => {
      const user = await newUser();
      const refused = await request(server())
        .post(user.tasks)
        .set(user.auth)
        .send({ title: 'Refused', ...fields });
      expectProblem(refused, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(refused).map((error) => error.split(':')[0])).toContain(field);
      expect(await user.list('')).toEqual([]);
    });

    it('accepts 29 February of a leap year, 64-character tags and 20 tags', async () => {
      const user = await newUser();
      const tags = Array.from({ length: 19 }, (_, i) => `tag ${String(i).padStart(2, '0')}`);
      const task = await user.create({
        title: 'Leap',
        due_date: '2024-02-29',
        tags: [...tags, 'y'.repeat(64)],
      });
      expect(task.due_date).toBe('2024-02-29');
      expect(task.tags).toHaveLength(20);
    });

    it('an update cannot leave a time without a date or a zone', async () => {
      const user = await newUser();
      const undated = await user.create({ title: 'Undated' });
      const timed = await user.create({
        title: 'Timed',
        due_date: '2025-05-05',
        due_time: '08:00',
        time_zone: 'UTC',
      });
      const put = (id: string, body: object) =>
        request(server()).put(`${user.tasks}/${id}`).set(user.auth).send(body);
      for (const [id, body, field] of [
        [undated.id, { due_time: '08:00', time_zone: 'UTC' }, 'due_time'],
        [timed.id, { due_date: null }, 'due_time'],
        [timed.id, { due_time: null }, 'time_zone'],
        [timed.id, { time_zone: null }, 'time_zone'],
        [timed.id, { due_date: '2025-05-06', due_time: '08:00', time_zone: null }, 'due_time'],
      ] as const) {
        const refused = await put(id, body);
        expectProblem(refused, 400, 'VALIDATION_ERROR');
        expect(fieldErrors(refused).map((error) => error.split(':')[0])).toContain(field);
      }
      const [after] = await user.list('has_due=true');
      expect(after).toMatchObject({ due_date: '2025-05-05', due_time: '08:00', time_zone: 'UTC' });
    });
  });

  describe('tags', () => {
    it('match case-insensitively, keep the first spelling, collapse duplicates, sort without case', async () => {
      const user = await newUser();
      const first = await user.create({ title: 'First', tags: ['Work', 'work', 'b', 'A', 'c'] });
      expect(first.tags).toEqual(['A', 'b', 'c', 'Work']);
      const second = await user.create({ title: 'Second', tags: ['WORK', 'home'] });
      expect(second.tags).toEqual(['home', 'Work']);
      // An update and a bulk addition take the same spelling.
      const third = await user.create({ title: 'Third' });
      const updated = await request(server())
        .put(`${user.tasks}/${third.id}`)
        .set(user.auth)
        .send({ tags: ['HOME', 'new'] })
        .expect(200);
      expect(updated.body.tags).toEqual(['home', 'new']);
      expect(await user.titles('tag=wOrK&sort=title')).toEqual(['First', 'Second']);
      // Another user's tags are theirs: their own first spelling.
      const other = await newUser();
      expect((await other.create({ title: 'Theirs', tags: ['WORK'] })).tags).toEqual(['WORK']);
      expect(await other.titles('tag=work')).toEqual(['Theirs']);
    });

    it('the collection: names with live task counts, rename with merge, delete, 404 TAG_NOT_FOUND', async () => {
      const user = await newUser();
      const a = await user.create({ title: 'A', tags: ['Work', 'Errands'] });
      const b = await user.create({ title: 'B', tags: ['work'] });
      const trashed = await user.create({ title: 'Trashed', tags: ['work', 'Old'] });
      await request(server()).delete(`${user.tasks}/${trashed.id}`).set(user.auth).expect(204);
      const listed = await request(server()).get(user.tags).set(user.auth).expect(200);
      expect(listed.body).toEqual([
        { name: 'Errands', task_count: 1 },
        { name: 'Work', task_count: 2 },
      ]);

      const feed = await request(server()).get(`${user.tasks}/changes`).set(user.auth).expect(200);
      const since = feed.body.next as string;

      // A change of case only is a rename too.
      const recased = await request(server())
        .put(`${user.tags}/WORK`)
        .set(user.auth)
        .send({ name: 'WORK' })
        .expect(200);
      expect(recased.body).toEqual({ updated: 2 });
      expect(await user.list('sort=title')).toEqual([
        expect.objectContaining({ title: 'A', tags: ['Errands', 'WORK'] }),
        expect.objectContaining({ title: 'B', tags: ['WORK'] }),
      ]);
      // Into an existing tag: the two merge under the existing spelling.
      const merged = await request(server())
        .put(`${user.tags}/work`)
        .set(user.auth)
        .send({ name: ' errands ' })
        .expect(200);
      expect(merged.body).toEqual({ updated: 2 });
      expect(await user.list('sort=title')).toEqual([
        expect.objectContaining({ title: 'A', tags: ['Errands'] }),
        expect.objectContaining({ title: 'B', tags: ['Errands'] }),
      ]);
      const versions = async () =>
        Promise.all(
          [a, b].map(
            async (task) =>
              (await request(server()).get(`${user.tasks}/${task.id}`).set(user.auth)).headers[
                'etag'
              ],
          ),
        );
      expect(await versions()).toEqual(['"3"', '"3"']);
      const changes = await request(server())
        .get(`${user.tasks}/changes?since=${encodeURIComponent(since)}`)
        .set(user.auth)
        .expect(200);
      expect(
        (changes.body.changes as WireTask[]).map((change) => [change.title, change.tags]).sort(),
      ).toEqual([
        ['A', ['Errands']],
        ['B', ['Errands']],
      ]);

      const removed = await request(server())
        .delete(`${user.tags}/ERRANDS`)
        .set(user.auth)
        .expect(200);
      expect(removed.body).toEqual({ updated: 2 });
      expect((await user.list('')).map((task) => task.tags)).toEqual([[], []]);
      expect((await request(server()).get(user.tags).set(user.auth).expect(200)).body).toEqual([]);

      // Missing, only on a trashed task, or another user's: the same 404.
      for (const name of ['errands', 'Old', 'nothing']) {
        expectProblem(
          await request(server()).delete(`${user.tags}/${name}`).set(user.auth),
          404,
          'TAG_NOT_FOUND',
        );
      }
      const other = await newUser();
      await other.create({ title: 'Theirs', tags: ['secret'] });
      expectProblem(
        await request(server()).put(`${user.tags}/secret`).set(user.auth).send({ name: 'mine' }),
        404,
        'TAG_NOT_FOUND',
      );
      expect((await other.list(''))[0].tags).toEqual(['secret']);
      // Restored, the trashed task still carries its tags, spelled as when it was tagged.
      expect(trashed.tags).toEqual(['Old', 'Work']);
      await request(server())
        .post(`${user.tasks}/${trashed.id}/restore`)
        .set(user.auth)
        .expect(200);
      expect((await request(server()).get(user.tags).set(user.auth)).body).toEqual([
        { name: 'Old', task_count: 1 },
        { name: 'Work', task_count: 1 },
      ]);
    });

    it('refuses bad names in the path and the body, and pages the collection with Link', async () => {
      const user = await newUser();
      await user.create({ title: 'Tagged', tags: ['a', 'B', 'c'] });
      expectProblem(
        await request(server()).put(`${user.tags}/a`).set(user.auth).send({ name: '  ' }),
        400,
        'VALIDATION_ERROR',
      );
      expectProblem(
        await request(server()).put(`${user.tags}/a`).set(user.auth).send({}),
        400,
        'VALIDATION_ERROR',
      );
      expectProblem(
        await request(server())
          .delete(`${user.tags}/${'x'.repeat(65)}`)
          .set(user.auth),
        400,
        'VALIDATION_ERROR',
      );
      expectProblem(
        await request(server()).delete(`${user.tags}/a%07`).set(user.auth),
        400,
        'VALIDATION_ERROR',
      );
      const names: string[] = [];
      let next: string | undefined = `${user.tags}?limit=2`;
      while (next) {
        const page: request.Response = await request(server()).get(next).set(user.auth).expect(200);
        names.push(...(page.body as { name: string }[]).map((tag) => tag.name));
        next = /<([^>]+)>; rel="next"/.exec(page.headers['link'] ?? '')?.[1];
      }
      expect(names).toEqual(['a', 'B', 'c']);
      expectProblem(
        await request(server()).get(`${user.tags}?cursor=nonsense`).set(user.auth),
        400,
        'VALIDATION_ERROR',
      );
    });

    it('a rename that would give a task more than 20 tags cannot happen; a bulk addition can: 400, all or nothing', async () => {
      const user = await newUser();
      const full = await user.create({
        title: 'Full',
        tags: Array.from({ length: 20 }, (_, i) => `t${i}`),
      });
      const light = await user.create({ title: 'Light', tags: ['t0'] });
      const refused = await request(server())
        .patch(user.tasks)
        .set(user.auth)
        .send({ ids: [light.id, full.id], add_tags: ['one more'] });
      expectProblem(refused, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(refused)).toEqual(['tags: a task has at most 20 tags']);
      expect((await user.list('sort=title'))[1].tags).toEqual(['t0']);
    });
  });

  describe('bulk changes', () => {
    it('sets priority, adds and removes tags on every named task in one statement', async () => {
      const user = await newUser();
      const a = await user.create({ title: 'A', tags: ['Keep', 'drop'] });
      const b = await user.create({ title: 'B', priority: 'low' });
      // Spelled as the owner first did: "drop".
      await user.create({ title: 'Untouched', tags: ['DROP'] });
      const sent = await recorder.sentBy(
        request(server())
          .patch(user.tasks)
          .set(user.auth)
          .send({
            ids: [a.id, b.id],
            priority: 'high',
            add_tags: ['new', 'keep'],
            remove_tags: ['DROP'],
          }),
        200,
      );
      expect(sent).toHaveLength(1);
      expect(await user.list('sort=title')).toEqual([
        expect.objectContaining({ title: 'A', priority: 'high', tags: ['Keep', 'new'] }),
        expect.objectContaining({ title: 'B', priority: 'high', tags: ['Keep', 'new'] }),
        expect.objectContaining({ title: 'Untouched', priority: 'none', tags: ['drop'] }),
      ]);
      // The older fields alone leave the new ones as they are.
      await request(server())
        .patch(user.tasks)
        .set(user.auth)
        .send({ ids: [a.id], completed: true })
        .expect(200);
      expect((await user.list('completed=true'))[0]).toMatchObject({
        priority: 'high',
        tags: ['Keep', 'new'],
      });
      expectProblem(
        await request(server())
          .patch(user.tasks)
          .set(user.auth)
          .send({ ids: [a.id] }),
        400,
        'VALIDATION_ERROR',
      );
      expectProblem(
        await request(server())
          .patch(user.tasks)
          .set(user.auth)
          .send({ ids: [a.id], priority: 'urgent' }),
        400,
        'VALIDATION_ERROR',
      );
    });
  });

  describe('filters', () => {
    it('combine with AND; priority is any of, tag is all of; due_from/due_to inclusive; has_due', async () => {
      const user = await newUser();
      const list = (
        await request(server())
          .post(`/api/${user.userId}/lists`)
          .set(user.auth)
          .send({ name: 'Home' })
          .expect(201)
      ).body as { id: string };
      await user.create({ title: 'high work', priority: 'high', tags: ['work'] });
      await user.create({ title: 'high work urgent', priority: 'high', tags: ['Work', 'urgent'] });
      await user.create({
        title: 'low urgent',
        priority: 'low',
        tags: ['urgent'],
        completed: true,
      });
      await user.create({ title: 'medium', priority: 'medium', due_date: '2025-03-01' });
      await user.create({ title: 'none early', due_date: '2025-02-28', list_id: list.id });
      await user.create({
        title: 'none late',
        due_date: '2025-03-31',
        due_time: '23:30',
        time_zone: 'UTC',
        list_id: list.id,
      });
      const sorted = (query: string) => user.titles(`${query}&sort=title`);
      expect(await sorted('priority=high&priority=low')).toEqual([
        'high work',
        'high work urgent',
        'low urgent',
      ]);
      expect(await sorted('tag=work&tag=URGENT')).toEqual(['high work urgent']);
      expect(await sorted('tag=urgent')).toEqual(['high work urgent', 'low urgent']);
      expect(await sorted('tag=urgent&completed=false')).toEqual(['high work urgent']);
      expect(await sorted('priority=low&priority=medium&tag=urgent')).toEqual(['low urgent']);
      expect(await sorted('due_from=2025-03-01&due_to=2025-03-31')).toEqual([
        'medium',
        'none late',
      ]);
      expect(await sorted('due_from=2025-03-01')).toEqual(['medium', 'none late']);
      expect(await sorted('due_to=2025-03-01')).toEqual(['medium', 'none early']);
      expect(await sorted('has_due=true')).toEqual(['medium', 'none early', 'none late']);
      expect(await sorted('has_due=false')).toEqual([
        'high work',
        'high work urgent',
        'low urgent',
      ]);
      expect(await sorted(`list_id=${list.id}&due_to=2025-03-01`)).toEqual(['none early']);
      expect(await sorted('priority=none&has_due=true&due_from=2025-03-02')).toEqual(['none late']);
      expect(await sorted('tag=nothing')).toEqual([]);
    });

    it.each([
      ['priority=urgent', 'priority'],
      [`${'priority=low&'.repeat(5)}x=1`, 'priority'],
      ['tag=', 'tag'],
      [`tag=${'x'.repeat(65)}`, 'tag'],
      [`${'tag=a&'.repeat(21)}q=a`, 'tag'],
      ['due_from=2025-02-30', 'due_from'],
      ['due_to=tomorrow', 'due_to'],
      ['has_due=yes', 'has_due'],
      ['q=', 'q'],
      ['q=%20%20', 'q'],
      [`q=${'a'.repeat(201)}`, 'q'],
      ['q=a%00b', 'q'],
      ['sort=relevance', 'sort'],
      ['sort=urgency', 'sort'],
      ['trashed=true&tag=a', 'tag'],
      ['trashed=true&q=a', 'q'],
    ])('refuses ?%s on %s', async (query, field) => {
      const user = await newUser();
      const refused = await request(server()).get(`${user.tasks}?${query}`).set(user.auth);
      expectProblem(refused, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(refused).map((error) => error.split(':')[0])).toContain(field);
    });
  });

  describe('sorts and cursors', () => {
    let user: Awaited<ReturnType<typeof newUser>>;
    let all: WireTask[];

    beforeAll(async () => {
      user = await newUser();
      const bodies = [
        { title: 'undated high', priority: 'high' },
        { title: 'undated none' },
        { title: 'apr all-day', due_date: '2025-04-01', priority: 'low' },
        {
          title: 'apr 09 Berlin',
          due_date: '2025-04-01',
          due_time: '09:00',
          time_zone: 'Europe/Berlin',
        },
        {
          title: 'apr 08 NY',
          due_date: '2025-04-01',
          due_time: '08:00',
          time_zone: 'America/New_York',
        },
        { title: 'mar all-day', due_date: '2025-03-01', priority: 'medium' },
        { title: 'mar all-day twin', due_date: '2025-03-01', priority: 'medium' },
        {
          title: 'may 07 UTC',
          due_date: '2025-05-01',
          due_time: '07:00',
          time_zone: 'UTC',
          priority: 'high',
        },
        { title: 'Ábc accented' },
      ];
      all = [];
      for (const body of bodies) all.push(await user.create(body));
      // A touch, so that updated_at differs from created_at's order.
      await request(server())
        .put(`${user.tasks}/${all[2].id}`)
        .set(user.auth)
        .send({ description: 'touched' })
        .expect(200);
    });

    const byId = (a: WireTask, b: WireTask) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const compare =
      (...keys: ((t: WireTask) => string | number)[]) =>
      (a: WireTask, b: WireTask) => {
        for (const key of keys) {
          const [x, y] = [key(a), key(b)];
          if (x < y) return -1;
          if (x > y) return 1;
        }
        return byId(a, b);
      };
    const rank = (t: WireTask) => ['none', 'low', 'medium', 'high'].indexOf(t.priority);

    it('sort=due: by date, then instant with all-day last, undated last; -due reverses all but undated', async () => {
      // "~" sorts after any date or instant: all-day after the timed tasks, undated last.
      const key = (t: WireTask) => `${t.due_date ?? '~'} ${t.due_at ?? '~'}`;
      const ascending = [...all].sort(compare(key)).map((t) => t.title);
      expect(ascending.slice(0, 6)).toEqual([
        expect.stringMatching(/^mar all-day/),
        expect.stringMatching(/^mar all-day/),
        'apr 09 Berlin',
        'apr 08 NY',
        'apr all-day',
        'may 07 UTC',
      ]);
      expect(await user.titles('sort=due')).toEqual(ascending);
      const dated = all.filter((t) => t.due_date !== null);
      const undated = all.filter((t) => t.due_date === null);
      const reversed = (list: WireTask[]) =>
        [...list]
          .sort(compare(key))
          .reverse()
          .map((t) => t.title);
      const descending = [...reversed(dated), ...reversed(undated)];
      expect(descending.slice(0, 4)).toEqual([
        'may 07 UTC',
        'apr all-day',
        'apr 08 NY',
        'apr 09 Berlin',
      ]);
      expect(await user.titles('sort=-due')).toEqual(descending);
    });

    it('sort=-priority is high first, then by id; priority is none first', async () => {
      const expected = [...all].sort(compare((t) => -rank(t))).map((t) => t.title);
      // Descending ties are by id descending.
      const descending = [...all]
        .sort((a, b) => rank(b) - rank(a) || byId(b, a))
        .map((t) => t.title);
      expect(await user.titles('sort=-priority')).toEqual(descending);
      // Two tasks are high; which comes first is by id, so the first is known by its priority.
      expect(all.find((t) => t.title === expected[0])?.priority).toBe('high');
      const ascending = [...all].sort(compare(rank)).map((t) => t.title);
      expect(await user.titles('sort=priority')).toEqual(ascending);
    });

    it.each([
      'created_at',
      '-created_at',
      'updated_at',
      '-updated_at',
      'title',
      '-title',
      'priority',
      '-priority',
      'due',
      '-due',
    ])('sort=%s: pages of 2 through Link give the whole order, with a filter too', async (sort) => {
      for (const filter of ['', '&has_due=true', '&priority=none&priority=medium&priority=high']) {
        const whole = await user.titles(`sort=${sort}${filter}`);
        const paged: string[] = [];
        let next: string | undefined = `${user.tasks}?sort=${sort}${filter}&limit=2`;
        while (next) {
          const page: request.Response = await request(server())
            .get(next)
            .set(user.auth)
            .expect(200);
          paged.push(...(page.body as WireTask[]).map((task) => task.title));
          next = /<([^>]+)>; rel="next"/.exec(page.headers['link'] ?? '')?.[1];
        }
        expect(paged).toEqual(whole);
        expect(whole.length).toBeGreaterThan(2);
      }
    });

    it('a cursor of one sort is refused for another, and a forged value is refused', async () => {
      const page = await request(server()).get(`${user.tasks}?sort=due&limit=1`).set(user.auth);
      const cursor = new URL(
        /<([^>]+)>/.exec(page.headers['link'])?.[1] ?? '',
        'http://x',
      ).searchParams.get('cursor') as string;
      expectProblem(
        await request(server())
          .get(`${user.tasks}?sort=-due&cursor=${encodeURIComponent(cursor)}`)
          .set(user.auth),
        400,
        'VALIDATION_ERROR',
      );
    });
  });

  describe('search', () => {
    let user: Awaited<ReturnType<typeof newUser>>;

    beforeAll(async () => {
      user = await newUser();
      await user.create({ title: 'Crème brûlée', description: 'for the party' });
      await user.create({ title: 'Buy groceries', description: 'milk, eggs, crème fraîche' });
      await user.create({ title: 'Call mum', description: 'about the groceries list' });
      await user.create({ title: 'Party planning', description: null });
      await user.create({ title: "Don't forget: a&b | c:* !x" });
    });

    it('ignores case and accents, and matches the last word as a prefix', async () => {
      expect(await user.titles('q=CREME')).toEqual(['Crème brûlée', 'Buy groceries']);
      expect(await user.titles('q=brulee')).toEqual(['Crème brûlée']);
      expect(await user.titles('q=gro')).toEqual(['Buy groceries', 'Call mum']);
      expect(await user.titles('q=grocer%20call')).toEqual([]);
      expect(await user.titles('q=call%20gro')).toEqual(['Call mum']);
    });

    it('needs every word, in any order, in the title or the description', async () => {
      expect(await user.titles('q=party%20creme')).toEqual(['Crème brûlée']);
      expect(await user.titles('q=creme%20party')).toEqual(['Crème brûlée']);
      expect(await user.titles('q=milk%20eggs%20buy')).toEqual(['Buy groceries']);
      expect(await user.titles('q=milk%20nothing')).toEqual([]);
    });

    it('orders by relevance: title matches first, then newest; sort may override it', async () => {
      // "party": the title of Party planning, the description of Crème brûlée (older).
      expect(await user.titles('q=party')).toEqual(['Party planning', 'Crème brûlée']);
      expect(await user.titles('q=groceries')).toEqual(['Buy groceries', 'Call mum']);
      expect(await user.titles('q=party&sort=title')).toEqual(['Crème brûlée', 'Party planning']);
      expect(await user.titles('q=party&sort=relevance')).toEqual([
        'Party planning',
        'Crème brûlée',
      ]);
      // Pages of one through relevance give the same order.
      const paged: string[] = [];
      let next: string | undefined = `${user.tasks}?q=gro&limit=1`;
      while (next) {
        const page: request.Response = await request(server()).get(next).set(user.auth).expect(200);
        paged.push(...(page.body as WireTask[]).map((task) => task.title));
        next = /<([^>]+)>; rel="next"/.exec(page.headers['link'] ?? '')?.[1];
      }
      expect(paged).toEqual(['Buy groceries', 'Call mum']);
    });

    it('takes text search operators as plain characters', async () => {
      for (const q of ["don't", 'a&b', 'c:*', '!x', '|', 'forget: a&b | c:* !x', "'", '\\', '(a']) {
        const found = await request(server())
          .get(`${user.tasks}?q=${encodeURIComponent(q)}`)
          .set(user.auth)
          .expect(200);
        expect(Array.isArray(found.body)).toBe(true);
      }
      expect(await user.titles(`q=${encodeURIComponent("don't forget")}`)).toEqual([
        "Don't forget: a&b | c:* !x",
      ]);
      expect(await user.titles(`q=${encodeURIComponent('a&b')}`)).toEqual([
        "Don't forget: a&b | c:* !x",
      ]);
      // Punctuation alone has no word to match: nothing, rather than everything.
      expect(await user.titles(`q=${encodeURIComponent('|')}`)).toEqual([]);
    });

    it("another user's tasks are never found", async () => {
      const other = await newUser();
      expect(await other.titles('q=creme')).toEqual([]);
    });
  });

  describe('one round trip per request', () => {
    it('the list with every filter and search, the tags collection, rename and delete', async () => {
      const user = await newUser();
      await user.create({ title: 'Tagged groceries', tags: ['one'], due_date: '2025-01-01' });
      const calls: [request.Test, number][] = [
        [
          request(server())
            .get(
              `${user.tasks}?q=gro&tag=one&priority=none&completed=false&has_due=true&due_from=2025-01-01&due_to=2025-12-31&sort=due`,
            )
            .set(user.auth),
          200,
        ],
        [request(server()).get(`${user.tasks}?q=gro`).set(user.auth), 200],
        [request(server()).get(user.tags).set(user.auth), 200],
        [request(server()).put(`${user.tags}/one`).set(user.auth).send({ name: 'two' }), 200],
        [request(server()).delete(`${user.tags}/two`).set(user.auth), 200],
        [request(server()).delete(`${user.tags}/two`).set(user.auth), 404],
      ];
      for (const [call, status] of calls) {
        expect(await recorder.sentBy(call, status)).toHaveLength(1);
      }
    });
  });

  describe('idempotent creates, the trash and the feed carry the new fields', () => {
    it('a replayed create answers the same organised task; trash and restore keep the fields', async () => {
      const user = await newUser();
      const body = {
        title: 'Replayed',
        priority: 'medium',
        due_date: '2025-06-01',
        due_time: '18:00',
        time_zone: 'Europe/Berlin',
        tags: ['x'],
      };
      const first = await request(server())
        .post(user.tasks)
        .set(user.auth)
        .set('Idempotency-Key', 'organised-1')
        .send(body)
        .expect(201);
      const again = await request(server())
        .post(user.tasks)
        .set(user.auth)
        .set('Idempotency-Key', 'organised-1')
        .send(body)
        .expect(201);
      expect(again.body).toEqual(first.body);
      expect(first.body).toMatchObject({ due_at: '2025-06-01T16:00:00.000Z', tags: ['x'] });
      await request(server()).delete(`${user.tasks}/${first.body.id}`).set(user.auth).expect(204);
      const [trashed] = (
        await request(server()).get(`${user.tasks}?trashed=true`).set(user.auth).expect(200)
      ).body as WireTask[];
      expect(trashed).toMatchObject({ priority: 'medium', tags: ['x'], due_time: '18:00' });
      const restored = await request(server())
        .post(`${user.tasks}/${first.body.id}/restore`)
        .set(user.auth)
        .expect(200);
      expect(restored.body).toMatchObject({
        priority: 'medium',
        tags: ['x'],
        due_at: first.body.due_at,
      });
      const feed = await request(server()).get(`${user.tasks}/changes`).set(user.auth).expect(200);
      expect(feed.body.changes).toEqual([
        expect.objectContaining({
          id: first.body.id,
          tags: ['x'],
          priority: 'medium',
          deleted: false,
        }),
      ]);
    });
  });
});
