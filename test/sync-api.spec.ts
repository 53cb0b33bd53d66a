import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

type WireTask = { id: string; deleted?: boolean } & Record<string, unknown>;

const ROUNDS = 10;
const WRITERS = 4;
const WRITES_PER_WRITER = 15;

// specification §10: a client that applies the feed in order and always asks again with `next`
// holds exactly the server's data, even while other requests write concurrently.
describe('the tasks changes feed under concurrent writers (through HTTP)', () => {
  let testApp: TestApp;
  let db: Client;
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    testApp = await startTestApp();
    db = new Client({ connectionString: testApp.database.url });
    await db.connect();
    // Widens the window between a write taking its transaction id and its commit, on this
    // test's own database: commits then land out of id order far more often than they would.
    await db.query(`
      CREATE FUNCTION test_commit_delay() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(random() * 0.015); RETURN NULL; END $$;
      CREATE TRIGGER zz_test_commit_delay AFTER INSERT OR UPDATE OR DELETE ON tasks
        FOR EACH ROW EXECUTE FUNCTION test_commit_delay();`);
  });
  afterAll(async () => {
    await db.end();
    await testApp.close();
  });

  /** One writer: creates, edits, toggles and deletes random tasks of the owner, via the API. */
  async function writer(owner: string, auth: object, ids: string[]): Promise<void> {
    const tasks = `/api/${owner}/tasks`;
    for (let n = 0; n < WRITES_PER_WRITER; n += 1) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      const choice = ids.length < 3 ? 0 : Math.floor(Math.random() * 4);
      if (choice === 0) {
        const created = await request(server())
          .post(tasks)
          .set(auth as Record<string, string>)
          .send({ title: `task ${n}`, description: Math.random() < 0.5 ? 'some' : null })
          .expect(201);
        ids.push(created.body.id);
      } else if (choice === 1) {
        await request(server())
          .put(`${tasks}/${id}`)
          .set(auth as Record<string, string>)
          .send({ title: `edited ${n}` })
          .expect((response) => expect([200, 404]).toContain(response.status));
      } else if (choice === 2) {
        await request(server())
          .patch(`${tasks}/${id}/complete`)
          .set(auth as Record<string, string>)
          .expect((response) => expect([200, 404]).toContain(response.status));
      } else {
        // A delete may move the task to the trash: either way the feed reports it as deleted.
        await request(server())
          .delete(`${tasks}/${id}`)
          .set(auth as Record<string, string>)
          .expect((response) => expect([204, 404]).toContain(response.status));
        const at = ids.indexOf(id);
        if (at !== -1) ids.splice(at, 1);
      }
    }
  }

  it(`keeps a polling replica equal to the server, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const owner = `replica-${round}`;
      const auth = bearer(await signToken(owner));
      const feed = `/api/${owner}/tasks/changes`;
      const replica = new Map<string, WireTask>();
      let next: string | undefined;
      let polls = 0;
      let applied = 0;
      const poll = async (): Promise<boolean> => {
        const query = next === undefined ? '?limit=5' : `?limit=5&since=${next}`;
        const page = await request(server()).get(`${feed}${query}`).set(auth).expect(200);
        for (const change of page.body.changes as WireTask[]) {
          if (change.deleted) replica.delete(change.id);
          else replica.set(change.id, change);
          applied += 1;
        }
        next = page.body.next;
        polls += 1;
        return page.body.has_more as boolean;
      };

      const ids: string[] = [];
      for (let n = 0; n < 5; n += 1) {
        const created = await request(server())
          .post(`/api/${owner}/tasks`)
          .set(auth)
          .send({ title: `seed ${n}` })
          .expect(201);
        ids.push(created.body.id);
      }
      let writing = true;
      const writers = Promise.all(
        Array.from({ length: WRITERS }, () => writer(owner, auth, ids)),
      ).finally(() => {
        writing = false;
      });
      while (writing) await poll();
      await writers;
      while (await poll());

      const live = await request(server())
        .get(`/api/${owner}/tasks?limit=1000`)
        .set(auth)
        .expect(200);
      const expected = new Map<string, WireTask>(
        (live.body as WireTask[]).map((task) => [task.id, { ...task, deleted: false }]),
      );
      expect({ round, replica: Object.fromEntries(replica) }).toEqual({
        round,
        replica: Object.fromEntries(expected),
      });
      expect(polls).toBeGreaterThan(1);
      expect(applied).toBeGreaterThan(0);
    }
  }, 180_000);
});
