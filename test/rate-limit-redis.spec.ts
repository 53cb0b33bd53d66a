import { Logger } from '@nestjs/common';
import type { LightMyRequestResponse } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/database/embedded-postgres';
import { REDIS_COMMAND_TIMEOUT_MS, REDIS_RETRY_INTERVAL_MS } from '../src/http/rate-limit.storage';
import { RedisServer } from './support/redis-server';
import { startTestApp, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { bearer, signToken } from './support/tokens';
import { loadSlack } from './support/machine-load';

const LIMIT = 20;
const REQUESTS_PER_INSTANCE = 15;
/** How long Redis is frozen while requests arrive at 40 a second, and by how many callers. */
const FREEZE_MS = 5000;
const FROZEN_CALLERS = 20;
// Two apps, a Redis that goes away and comes back: more than the default 30 s on a loaded machine.
jest.setTimeout(loadSlack(120_000));

const OUTAGE_WARNING = /^Redis unavailable/;
const RECOVERY_LOG = /^Redis is back/;

/** The metric a check that gave up on Redis increments (it waited the command timeout). */
async function failedStoreChecks({ app }: TestApp): Promise<number> {
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^rate_limit_store_errors_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

/** The messages a spy on one of Nest's Logger methods received that match `pattern`. */
const logged = (spy: jest.SpyInstance, pattern: RegExp): string[] =>
  spy.mock.calls.map(([message]) => String(message)).filter((message) => pattern.test(message));

// Rate limits that hold across replicas: REDIS_URL puts the counters in Redis.
describe('rate limiting shared through Redis', () => {
  let redis: RedisServer;
  let database: TestDatabase;
  let instances: TestApp[] = [];
  let warn: jest.SpyInstance;
  let info: jest.SpyInstance;

  beforeAll(async () => {
    [redis, database] = await Promise.all([RedisServer.start(), createTestDatabase()]);
    // Nest's Logger is how the app logs outside requests; spying on it captures every instance.
    warn = jest.spyOn(Logger.prototype, 'warn');
    info = jest.spyOn(Logger.prototype, 'log');
    const env = { RATE_LIMIT_PER_MINUTE: String(LIMIT), REDIS_URL: redis.url };
    instances = [await startTestApp(env, database), await startTestApp(env, database)];
    // Two apps in one process make @nestjs/typeorm warn that its default data source name is
    // taken twice (each app has its own); the tests judge what is logged while serving.
    warn.mockClear();
  });

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.close()));
    await redis?.stop();
    await database?.drop();
    jest.restoreAllMocks();
  });

  /** One caller's requests, alternating between the two instances, one at a time. */
  async function burst(user: string): Promise<LightMyRequestResponse[]> {
    const headers = bearer(await signToken(user));
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < REQUESTS_PER_INSTANCE; i++) {
      for (const { app } of instances) {
        responses.push(await app.inject({ method: 'GET', url: `/api/${user}/tasks`, headers }));
      }
    }
    return responses;
  }

  const statuses = (responses: LightMyRequestResponse[]) =>
    responses.map((response) => response.statusCode);

  it('holds one limit across two instances: 20 of 30 requests pass, 10 are 429', async () => {
    const responses = await burst('alice');

    expect(statuses(responses).filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(statuses(responses).slice(0, LIMIT)).toEqual(Array(LIMIT).fill(200));
    expect(statuses(responses).filter((status) => status === 429)).toHaveLength(
      2 * REQUESTS_PER_INSTANCE - LIMIT,
    );
    // The second instance's first answer already counts the first instance's request.
    expect(responses[0].headers['x-ratelimit-limit']).toBe(String(LIMIT));
    expect(responses[0].headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1));
    expect(responses[1].headers['x-ratelimit-remaining']).toBe(String(LIMIT - 2));
    const reset = Number(responses[1].headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(60);
    const refused = responses[responses.length - 1];
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(warn.mock.calls).toEqual([]);
  });

  it('serves every request while Redis is down, logs one warning per instance, and recovers', async () => {
    warn.mockClear();
    info.mockClear();
    await redis.stop();

    const responses = await burst('bob');
    // Each instance counts on its own meanwhile: 15 each stays under 20.
    expect(statuses(responses)).toEqual(Array(2 * REQUESTS_PER_INSTANCE).fill(200));
    for (const { app } of instances) {
      expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const errors = /^rate_limit_store_errors_total (\d+)$/m.exec(metrics);
      expect(Number(errors?.[1])).toBeGreaterThanOrEqual(1);
    }
    // Once per outage and instance, not once per request.
    expect(logged(warn, OUTAGE_WARNING)).toHaveLength(instances.length);
    expect(logged(warn, OUTAGE_WARNING)[0]).not.toMatch(/redis:\/\//);

    await redis.restart();
    const deadline = Date.now() + 30_000;
    while (logged(info, RECOVERY_LOG).length < instances.length && Date.now() < deadline) {
      await sleep(100);
    }
    expect(logged(info, RECOVERY_LOG)).toHaveLength(instances.length);

    const afterwards = await burst('carol');
    expect(statuses(afterwards).filter((status) => status === 429)).toHaveLength(
      2 * REQUESTS_PER_INSTANCE - LIMIT,
    );
    expect(logged(warn, OUTAGE_WARNING)).toHaveLength(instances.length);
  });

  it('waits on a Redis that stops answering no longer than the command timeout, and rarely', async () => {
    warn.mockClear();
    const headers = bearer(await signToken('dave'));
    const get = ({ app }: TestApp) =>
      app.inject({ method: 'GET', url: '/api/dave/tasks', headers });
    redis.pause();
    try {
      let started = Date.now();
      const first = await Promise.all(instances.map(get));
      let elapsed = Date.now() - started;
      expect(statuses(first)).toEqual([200, 200]);
      // Each waited for Redis, bounded by the command timeout (with room for a loaded machine).
      expect(elapsed).toBeGreaterThanOrEqual(REDIS_COMMAND_TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(REDIS_COMMAND_TIMEOUT_MS + loadSlack(4000));
      expect(logged(warn, OUTAGE_WARNING)).toHaveLength(instances.length);

      // The next requests do not each wait the timeout again: they count in process at once.
      // Each wait on Redis is a failed check in the metric: one per retry interval at most.
      const followUps = 5;
      const failedChecksBefore = await failedStoreChecks(instances[0]);
      started = Date.now();
      for (let i = 0; i < followUps; i++) expect((await get(instances[0])).statusCode).toBe(200);
      elapsed = Date.now() - started;
      const waitedOnRedis = (await failedStoreChecks(instances[0])) - failedChecksBefore;
      expect(waitedOnRedis).toBeLessThanOrEqual(Math.ceil(elapsed / REDIS_RETRY_INTERVAL_MS));
    } finally {
      redis.resume();
    }
  });

  it('while Redis is frozen, lets one request a second wait for it; the rest count in memory at once', async () => {
    warn.mockClear();
    const { app } = instances[0];
    const counter = async (name: string): Promise<number> => {
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    };
    const callers = await Promise.all(
      Array.from({ length: FROZEN_CALLERS }, (_, i) => signToken(`frozen-${i}`)),
    );
    // Past the previous test's outage: the next check asks Redis, and finds it back.
    await sleep(REDIS_RETRY_INTERVAL_MS + 100);
    const get = (i: number) =>
      app.inject({
        method: 'GET',
        url: `/api/frozen-${i % FROZEN_CALLERS}/tasks`,
        headers: bearer(callers[i % FROZEN_CALLERS]),
      });
    expect((await get(0)).statusCode).toBe(200);
    const errorsBefore = await counter('rate_limit_store_errors_total');
    const bypassedBefore = await counter('rate_limit_store_bypassed_total');

    redis.pause();
    const sent: Promise<LightMyRequestResponse>[] = [];
    let responses: LightMyRequestResponse[];
    try {
      // 40 requests a second, sent without waiting for the answers, as independent clients do.
      const started = Date.now();
      while (Date.now() - started < FREEZE_MS) {
        sent.push(get(sent.length));
        await sleep(1000 / 40);
      }
      responses = await Promise.all(sent);
    } finally {
      redis.resume();
    }

    expect(statuses(responses)).toEqual(Array(sent.length).fill(200));
    // Each check that waited for Redis ended in its command timeout, counted as a store error:
    // one when the freeze began, then one per retry interval at most.
    const waited = (await counter('rate_limit_store_errors_total')) - errorsBefore;
    expect(waited).toBeGreaterThanOrEqual(1);
    expect(waited).toBeLessThanOrEqual(Math.ceil(FREEZE_MS / REDIS_RETRY_INTERVAL_MS) + 1);
    // Every other request counted in memory without waiting for Redis to answer.
    const bypassed = (await counter('rate_limit_store_bypassed_total')) - bypassedBefore;
    expect(bypassed + waited).toBe(sent.length);
    expect(logged(warn, OUTAGE_WARNING).length).toBeLessThanOrEqual(1);
  });

  it('starts and serves with its Redis down, warning once', async () => {
    warn.mockClear();
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const lonely = await startTestApp(
      { RATE_LIMIT_PER_MINUTE: String(LIMIT), REDIS_URL: nobody },
      database,
    );
    try {
      expect(Date.now() - started).toBeLessThan(loadSlack(20_000));
      const headers = bearer(await signToken('erin'));
      for (let i = 0; i < 3; i++) {
        const response = await lonely.app.inject({
          method: 'GET',
          url: '/api/erin/tasks',
          headers,
        });
        expect(response.statusCode).toBe(200);
        expect(response.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1 - i));
      }
      expect(logged(warn, OUTAGE_WARNING)).toHaveLength(1);
    } finally {
      await lonely.close();
    }
  });
});
