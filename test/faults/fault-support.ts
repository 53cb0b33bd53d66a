import { Client } from 'pg';
import { adminQuery, TEST_ADMIN_URL_VAR } from '../support/test-database';

/**
 * Prints the figures a fault test measured, as one line that docs/reliability.md quotes:
 * `reliability figures <name> {json}`.
 */
export function reportFigures(name: string, figures: Record<string, unknown>): void {
  console.log(`reliability figures ${name} ${JSON.stringify(figures)}`);
}

/** Runs `sql` on the test cluster's admin connection (outside the database under test). */
export const admin = (sql: string): Promise<void> =>
  adminQuery(process.env[TEST_ADMIN_URL_VAR] as string, sql);

/** Refuses new connections to `database` and ends the open ones: the database "goes away". */
export async function takeDatabaseAway(database: string): Promise<void> {
  await admin(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
  await admin(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`,
  );
}

export const bringDatabaseBack = (database: string): Promise<void> =>
  admin(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);

/** A connection to the database under test, for looking at rows behind the API's back. */
export async function inspect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  // Outage tests terminate every session of the database, this one included.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * A steady load: `concurrency` loops, each sending one request at a time until `running()` turns
 * false. Returns what each request produced, in the order they finished.
 */
export async function steadyLoad<T>(options: {
  concurrency: number;
  running: () => boolean;
  send: (sequence: number) => Promise<T>;
}): Promise<T[]> {
  const results: T[] = [];
  let sequence = 0;
  const loop = async (): Promise<void> => {
    while (options.running()) results.push(await options.send(sequence++));
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return results;
}

/** The q-quantile (0..1) of `values`, in the values' unit; 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export const round = (value: number): number => Math.round(value);

/**
 * Asserts that no captured log line holds any of `secrets` (tokens, cookies, passwords), nor an
 * Authorization or Cookie header value that a redaction missed.
 */
export function expectNoSecrets(lines: string[], secrets: string[]): void {
  const leaks = lines.filter((line) => secrets.some((secret) => line.includes(secret)));
  expect(leaks).toEqual([]);
  const headerValues = lines.filter((line) =>
    /"(authorization|cookie)"\s*:\s*"(?!\[redacted\])/i.test(line),
  );
  expect(headerValues).toEqual([]);
}

/** Tokens come from the one minter of test/support/tokens.ts. */
export { authHeader } from '../support/tokens';

export type MixedKind = 'create' | 'read' | 'update' | 'list' | 'delete';

export interface MixedOutcome {
  kind: MixedKind;
  status: number;
  /** The problem type of a refusal, when the body was problem details. */
  type?: string;
  /** A network-level failure instead of a response. */
  error?: string;
}

/**
 * One user's full cycle through the API, as a client would run it: create a task, read it,
 * update it with its ETag, list, delete it with the new ETag. Stops at the first answer that is
 * not a success; returns every answer.
 */
export async function taskCycle(
  baseUrl: string,
  userId: string,
  headers: Record<string, string>,
  marker: string,
): Promise<MixedOutcome[]> {
  const outcomes: MixedOutcome[] = [];
  const tasksUrl = `${baseUrl}/api/${userId}/tasks`;
  const step = async (
    kind: MixedKind,
    url: string,
    init: RequestInit,
  ): Promise<{ body: string; etag: string } | undefined> => {
    try {
      const response = await fetch(url, { ...init, headers: { ...headers, ...init.headers } });
      const body = await response.text();
      const type = response.headers.get('content-type')?.includes('problem+json')
        ? (JSON.parse(body) as { type?: string }).type
        : undefined;
      outcomes.push({ kind, status: response.status, ...(type ? { type } : {}) });
      return response.ok ? { body, etag: response.headers.get('etag') ?? '*' } : undefined;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      outcomes.push({ kind, status: 0, error: cause?.code ?? String(error) });
      return undefined;
    }
  };
  const json = { 'content-type': 'application/json' };
  const created = await step('create', tasksUrl, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ title: marker }),
  });
  if (!created) return outcomes;
  const { id } = JSON.parse(created.body) as { id: string };
  const taskUrl = `${tasksUrl}/${id}`;
  const read = await step('read', taskUrl, { method: 'GET' });
  if (!read) return outcomes;
  const updated = await step('update', taskUrl, {
    method: 'PUT',
    headers: { ...json, 'if-match': read.etag },
    body: JSON.stringify({ title: `${marker} (edited)`, completed: true }),
  });
  if (!updated) return outcomes;
  if (!(await step('list', `${tasksUrl}?limit=5`, { method: 'GET' }))) return outcomes;
  await step('delete', taskUrl, {
    method: 'DELETE',
    headers: { 'if-match': updated.etag },
  });
  return outcomes;
}
