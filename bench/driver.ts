import autocannon from 'autocannon';
import {
  BIG_USER_PAGES,
  type DriverReply,
  type DriverRequest,
  type LoadSample,
  ROUTE_CONNECTIONS,
  type Scenario,
} from './scenarios';
import { signToken } from './tokens';

/**
 * The load generator: a child process of the orchestrator (bench/run.ts), so that autocannon's
 * own work never runs inside a server's event loop. It receives one scenario at a time over IPC,
 * drives it with autocannon and answers with every response's latency, recorded here (autocannon's
 * own histogram keeps whole milliseconds and has no p95).
 */
type Request = { method: string; path: string; headers: Record<string, string>; body?: string };

/**
 * Each user's token, signed once for the whole run (they are valid for hours), as a client keeps
 * its token between requests. Signing afresh for every stretch of load made nearly every request
 * of a stretch present a token the service had never seen.
 */
const tokens = new Map<string, string>();

function requestFactory(scenario: Scenario): () => Request {
  const auth = (userId: string): Record<string, string> => {
    const key = `${scenario.secret}\n${userId}`;
    let token = tokens.get(key);
    if (!token) {
      token = signToken(scenario.secret, userId);
      tokens.set(key, token);
    }
    return { authorization: `Bearer ${token}` };
  };
  const json = (userId: string): Record<string, string> => ({
    ...auth(userId),
    'content-type': 'application/json',
  });
  const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)];
  const base = (userId: string): string => `/api/${encodeURIComponent(userId)}/tasks`;
  let sequence = 0;

  switch (scenario.route) {
    case 'get-one':
      return () => {
        const [userId, id] = pick(scenario.pairs);
        return { method: 'GET', path: `${base(userId)}/${id}`, headers: auth(userId) };
      };
    case 'list-first':
      return () => {
        const userId = pick(scenario.users);
        return { method: 'GET', path: `${base(userId)}?limit=50`, headers: auth(userId) };
      };
    case 'big-page-1':
    case 'search':
    case 'due-page-1':
    case 'priority-page-1':
    case 'changes-page': {
      const path = `${base(scenario.bigUser)}${BIG_USER_PAGES[scenario.route]}`;
      return () => ({ method: 'GET', path, headers: auth(scenario.bigUser) });
    }
    case 'big-page-200':
    case 'due-page-200':
    case 'priority-page-200': {
      const path = scenario.deepPath?.[scenario.route];
      if (!path) throw new Error(`${scenario.route} needs the path of its page 200`);
      return () => ({ method: 'GET', path, headers: auth(scenario.bigUser) });
    }
    case 'create':
      return () => {
        const userId = pick(scenario.users);
        return {
          method: 'POST',
          path: base(userId),
          headers: json(userId),
          body: JSON.stringify({
            title: `Benchmark task ${++sequence}`,
            description: 'Created by the benchmark',
          }),
        };
      };
    case 'update':
      return () => {
        const [userId, id] = pick(scenario.pairs);
        return {
          method: 'PUT',
          path: `${base(userId)}/${id}`,
          headers: json(userId),
          body: JSON.stringify({ title: `Renamed by the benchmark ${++sequence}` }),
        };
      };
    case 'toggle':
      return () => {
        const [userId, id] = pick(scenario.pairs);
        return { method: 'PATCH', path: `${base(userId)}/${id}/complete`, headers: auth(userId) };
      };
  }
}

async function drive(scenario: Scenario): Promise<LoadSample> {
  const next = requestFactory(scenario);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const instance = autocannon({
    url: scenario.baseUrl,
    connections: Math.min(scenario.connections, ROUTE_CONNECTIONS[scenario.route] ?? Infinity),
    ...(scenario.amount ? { amount: scenario.amount } : { duration: scenario.durationSec }),
    timeout: 10,
    requests: [{ setupRequest: () => next() }],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const started = performance.now();
  const result = await instance;
  return {
    latencies: Float64Array.from(latencies),
    durationSec: (performance.now() - started) / 1000,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

process.on('message', (message: DriverRequest) => {
  if ('exit' in message) process.exit(0);
  drive(message.scenario).then(
    (sample) => process.send?.({ id: message.id, sample } satisfies DriverReply),
    (error: unknown) =>
      process.send?.({ id: message.id, error: String((error as Error)?.stack ?? error) }),
  );
});
