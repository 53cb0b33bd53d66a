import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Client } from 'pg';
import { type ErrorCode, errorCodes, statusOf } from '../../src/http/error-codes';
import { DEFAULT_PAGE_SIZE } from '../../src/owned-resources/pagination';
import { startTestApp, TestApp } from '../support/test-app';
import { inspect, reportFigures } from './fault-support';
import { authHeader, signToken } from '../support/tokens';

/**
 * Property-based hostile input (specification §4) against the real app on a real database: generated
 * bodies, query strings, path segments and headers. Properties: never a 5xx; a refusal is a
 * problem+json whose code is in the catalogue and matches its status; a refused request changed
 * nothing in the database; an accepted string is stored and returned exactly (titles trimmed).
 * Bodies are also judged by an oracle of the contract's rules, so that a wrong acceptance or a
 * wrong refusal fails as well. The seed is fixed so that every run (and CI) sends the same
 * requests; FC_SEED=<n> runs another set, and a failure prints the seed that replays it.
 */
const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : 20_261_124;
const RUNS = { create: 700, update: 400, raw: 250, sizes: 12, query: 300, path: 250, headers: 300 };

const TITLE_MAX = 255;
const DESCRIPTION_MAX = 10_000;
const BODY_LIMIT = 64 * 1024;
const USER = 'fuzz-user';
const TASKS = `/api/${USER}/tasks`;

// ---------------------------------------------------------------------------------------------
// Generators

const lengthEdges = [0, 1, 254, 255, 256, 9_999, 10_000, 10_001];
const hostileStrings: string[] = [
  '',
  ' ',
  '   \t\n',
  '\u00a0\u3000',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\udbff\udfff',
  '😀'.repeat(128),
  '😀'.repeat(127) + 'x',
  'e\u0301'.repeat(200),
  'a\ufe0f'.repeat(200),
  "'; DROP TABLE tasks; --",
  "' OR '1'='1",
  'Robert"); DELETE FROM tasks WHERE ("1"="1',
  '$1',
  '\\',
  '\\u0000',
  '"}',
  '{"completed":true}',
  '"], "user_id": "other',
  '%s%n%x',
  '${7*7}{{7*7}}',
  '<script>alert(1)</script>',
  '\r\nX-Injected: yes',
  '__proto__',
  'constructor',
  ...lengthEdges.map((length) => 'x'.repeat(length)),
  ' '.repeat(300),
  ` ${'y'.repeat(255)} `,
  '€'.repeat(255),
  '€'.repeat(256),
];
const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...hostileStrings) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...lengthEdges), fc.constantFrom('x', 'é', '😀', ' ', '\u0000'))
      .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length))),
  },
);
/** No lone UTF-16 surrogate (String.prototype.isWellFormed is ES2024). */
const isWellFormed = (text: string): boolean =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
/** What a URL can carry percent-encoded: well-formed Unicode. */
const urlSafeString = hostileString.filter((text) => isWellFormed(text));
const hugeNumbers = ['1e400', '-1e400', '1e308', '-0', '9007199254740993', '0.1e-400', '1E2'];
/** JSON text of a hostile value: strings, numbers, booleans, null, arrays, nested objects. */
const hostileJsonValue: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString.map((text) => JSON.stringify(text)),
    fc.constantFrom(...hugeNumbers),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
    fc.constantFrom('true', 'false', 'null', '"true"', '"false"', '0', '1'),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(
        fc.tuple(fc.constantFrom('a', '__proto__', 'constructor', 'prototype'), tie('value')),
        {
          maxLength: 3,
        },
      )
      .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

const KNOWN_KEYS = ['title', 'description', 'completed'];
const keyArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_KEYS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'user_id',
      'id',
      'version',
      'created_at',
      'Title',
      '',
      'title ',
      '\\u005f_proto__',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
/** A value for a known key, mostly well-formed so that bodies are often accepted. */
const fieldValue = (key: string): fc.Arbitrary<string> => {
  const plausible =
    key === 'completed'
      ? fc.constantFrom('true', 'false')
      : hostileString.map((text) => JSON.stringify(text));
  return fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: hostileJsonValue });
};
/** The raw JSON text of an object, keys possibly repeated (the last one wins in JSON.parse). */
const objectText: fc.Arbitrary<string> = fc
  .array(
    keyArbitrary.chain((key) => fieldValue(key).map((value) => [key, value] as const)),
    {
      maxLength: 5,
    },
  )
  .map(
    (pairs) =>
      `{${pairs
        // A key spelled with an escape stays as written, to reach the parser's poisoning check.
        .map(([key, value]) => `${key.includes('\\u') ? `"${key}"` : JSON.stringify(key)}:${value}`)
        .join(',')}}`,
  );
const createBody: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(objectText, fc.option(hostileString, { nil: undefined }))
      // Mostly with a title first, so that the other fields are judged too.
      .map(([text, title]) => {
        if (title === undefined) return text;
        const first = `"title":${JSON.stringify(title)}`;
        return text === '{}' ? `{${first}}` : `{${first},${text.slice(1)}`;
      }),
  },
  { weight: 1, arbitrary: hostileJsonValue },
);
const rawText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '{',
    '{"title": ',
    '{title: "x"}',
    "{'title': 'x'}",
    '{"title": "x",}',
    '{"title": "x"} {"title": "y"}',
    '{"title": "\\ud800"}',
    '{"title": "\\u0000"}',
    '{"title": "x\\q"}',
    'null',
    '[]',
    '"title"',
    'NaN',
    '{"title": 1e999}',
    '\ufeff{"title": "bom"}',
    '{"__proto__": {"admin": true}, "title": "x"}',
    '{"constructor": {"prototype": {"admin": true}}, "title": "x"}',
    '{"title": "dup", "title": "last"}',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  objectText.map((text) => text.slice(0, -1)),
);
const contentTypes = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constant('application/json; charset=utf-8') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'text/json',
    ),
  },
);

// ---------------------------------------------------------------------------------------------
// The oracle: what the contract says a body should get

type Verdict =
  { accepted: true; fields: Record<string, unknown> } | { accepted: false; codes: ErrorCode[] };

const refuse = (...codes: ErrorCode[]): Verdict => ({ accepted: false, codes });

/** Characters as PostgreSQL counts them (code points); the API may not allow more. */
const characters = (text: string): number => [...text].length;

function judgeText(value: unknown, max: number, trim: boolean): string | null {
  if (typeof value !== 'string') return null;
  const text = trim ? value.trim() : value;
  if (trim && text.length === 0) return null;
  if (characters(text) > max || text.includes('\u0000') || !isWellFormed(text)) return null;
  return text;
}

function judgeBody(text: string, mode: 'create' | 'update'): Verdict {
  if (Buffer.byteLength(text) > BODY_LIMIT) return refuse('PAYLOAD_TOO_LARGE');
  if (text.length === 0) return refuse('VALIDATION_ERROR');
  let poisoned = false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, function (key, value: unknown) {
      if (key === '__proto__') poisoned = true;
      if (key === 'constructor' && typeof value === 'object' && value && 'prototype' in value) {
        poisoned = true;
      }
      return value;
    });
  } catch {
    return refuse('INVALID_JSON');
  }
  if (poisoned) return refuse('INVALID_JSON', 'VALIDATION_ERROR');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse('VALIDATION_ERROR');
  }
  const body = parsed as Record<string, unknown>;
  const keys = Object.keys(body);
  if (keys.some((key) => !KNOWN_KEYS.includes(key))) return refuse('VALIDATION_ERROR');
  if (mode === 'update' && keys.length === 0) return refuse('VALIDATION_ERROR');
  const fields: Record<string, unknown> = {};
  if ('title' in body || mode === 'create') {
    const title = judgeText(body.title, TITLE_MAX, true);
    if (title === null) return refuse('VALIDATION_ERROR');
    fields.title = title;
  }
  if ('description' in body && body.description !== undefined && body.description !== null) {
    const description = judgeText(body.description, DESCRIPTION_MAX, false);
    if (description === null) return refuse('VALIDATION_ERROR');
    fields.description = description;
  } else if ('description' in body) {
    fields.description = null;
  }
  if ('completed' in body) {
    if (typeof body.completed !== 'boolean') return refuse('VALIDATION_ERROR');
    fields.completed = body.completed;
  }
  return { accepted: true, fields };
}

// ---------------------------------------------------------------------------------------------

interface StoredTask {
  id: string;
  title: string;
  description: string | null;
  completed: boolean;
}

describe(`hostile input (FC_SEED=${SEED})`, () => {
  let testApp: TestApp;
  let inspector: Client;
  let auth: { authorization: string };
  let fingerprint: string;
  let existing: StoredTask;
  const counts = { requests: 0, accepted: 0, refused: 0, byCode: {} as Record<string, number> };

  beforeAll(async () => {
    console.log(`hostile input: seed ${SEED} (replay with FC_SEED=${SEED})`);
    testApp = await startTestApp();
    inspector = await inspect(testApp.database.url);
    auth = await authHeader(USER);
    const created = await inject({
      method: 'POST',
      url: TASKS,
      headers: auth,
      payload: { title: 'the task that updates target', description: 'kept' },
    });
    existing = created.json();
    fingerprint = await tableFingerprint();
  });
  afterAll(async () => {
    reportFigures('hostile-input', { seed: SEED, ...counts });
    await inspector.end();
    await testApp.close();
  });

  /** Every row of the table with its xmin, which any write changes. */
  const tableFingerprint = async (): Promise<string> => {
    const { rows } = await inspector.query<{ digest: string | null }>(
      `SELECT md5(string_agg(t::text || ':' || t.xmin::text, ',' ORDER BY id)) AS digest FROM tasks t`,
    );
    return rows[0].digest ?? 'empty';
  };

  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
    testApp.app.getHttpAdapter().getInstance().inject(options);

  /** Sends a request and checks what holds for every response. */
  const send = async (options: InjectOptions): Promise<LightMyRequestResponse> => {
    const response = await inject(options);
    counts.requests++;
    expect(response.statusCode).toBeLessThan(500);
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
    if (response.statusCode >= 400) {
      counts.refused++;
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json() as { code: ErrorCode; status: number; request_id: string };
      counts.byCode[problem.code] = (counts.byCode[problem.code] ?? 0) + 1;
      expect(errorCodes()).toContain(problem.code);
      expect(problem.status).toBe(response.statusCode);
      if (problem.code !== 'BAD_REQUEST') {
        expect(response.statusCode).toBe(statusOf(problem.code));
      }
      expect(problem.request_id).toBe(response.headers['x-request-id']);
      expect(response.body).not.toMatch(/SELECT|INSERT|UPDATE "|node_modules|\bat .+:\d+:\d+/);
      // Nothing that was refused changed the database.
      expect(await tableFingerprint()).toBe(fingerprint);
    } else {
      counts.accepted++;
      fingerprint = await tableFingerprint();
    }
    return response;
  };

  const storedRow = async (id: string): Promise<StoredTask> => {
    const { rows } = await inspector.query<StoredTask>(
      'SELECT id, title, description, completed FROM tasks WHERE id = $1',
      [id],
    );
    return rows[0];
  };

  /** An accepted body's strings come back, and are stored, exactly as sent. */
  const expectStored = async (response: LightMyRequestResponse, expected: object) => {
    const returned = response.json() as StoredTask;
    expect(returned).toMatchObject(expected);
    const stored = await storedRow(returned.id);
    expect(stored).toMatchObject(expected);
    const fetched = await send({ method: 'GET', url: `${TASKS}/${returned.id}`, headers: auth });
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toMatchObject(expected);
  };

  const run = <Ts extends unknown[]>(property: fc.IAsyncProperty<Ts>, runs: number) =>
    fc.assert(property, { seed: SEED, numRuns: runs });

  it('POST bodies: accepted exactly when the contract allows, stored as sent', async () => {
    await run(
      fc.asyncProperty(createBody, contentTypes, async (text, contentType) => {
        const response = await send({
          method: 'POST',
          url: TASKS,
          headers: { ...auth, 'content-type': contentType },
          payload: text,
        });
        const verdict = contentType.startsWith('application/json')
          ? judgeBody(text, 'create')
          : refuse('UNSUPPORTED_MEDIA_TYPE');
        if (verdict.accepted) {
          expect(response.statusCode).toBe(201);
          await expectStored(response, {
            description: null,
            completed: false,
            ...verdict.fields,
          });
        } else {
          expect(verdict.codes).toContain(response.json().code);
        }
      }),
      RUNS.create,
    );
  });

  it('PUT bodies: accepted exactly when the contract allows; a refused one changes nothing', async () => {
    await run(
      fc.asyncProperty(objectText, async (text) => {
        const before = await storedRow(existing.id);
        const response = await send({
          method: 'PUT',
          url: `${TASKS}/${existing.id}`,
          headers: { ...auth, 'content-type': 'application/json' },
          payload: text,
        });
        const verdict = judgeBody(text, 'update');
        if (verdict.accepted) {
          expect(response.statusCode).toBe(200);
          await expectStored(response, { ...before, ...verdict.fields });
        } else {
          expect(verdict.codes).toContain(response.json().code);
          expect(await storedRow(existing.id)).toEqual(before);
        }
      }),
      RUNS.update,
    );
  });

  it('malformed JSON, and bodies that are not a JSON object, are refused', async () => {
    await run(
      fc.asyncProperty(rawText, fc.constantFrom('POST', 'PUT'), async (text, method) => {
        const response = await send({
          method,
          url: method === 'POST' ? TASKS : `${TASKS}/${existing.id}`,
          headers: { ...auth, 'content-type': 'application/json' },
          payload: text,
        });
        const verdict = judgeBody(
          text.replace(/^\ufeff/, ''),
          method === 'POST' ? 'create' : 'update',
        );
        if (!verdict.accepted) expect(verdict.codes).toContain(response.json().code);
        else expect(response.statusCode).toBeLessThan(300);
      }),
      RUNS.raw,
    );
  });

  it('bodies of 64 KiB are read (and judged), larger ones are 413', async () => {
    await run(
      fc.asyncProperty(
        fc.constantFrom(BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, 1024 * 1024),
        fc.constantFrom('POST', 'PUT'),
        async (size, method) => {
          const prefix = '{"title":"big","description":"';
          const text = `${prefix}${'d'.repeat(size - prefix.length - 2)}"}`;
          expect(Buffer.byteLength(text)).toBe(size);
          const response = await send({
            method,
            url: method === 'POST' ? TASKS : `${TASKS}/${existing.id}`,
            headers: { ...auth, 'content-type': 'application/json' },
            payload: text,
          });
          expect(response.json().code).toBe(
            size > BODY_LIMIT ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_ERROR',
          );
        },
      ),
      RUNS.sizes,
    );
  });

  const queryValue = fc.oneof(
    fc.constantFrom(
      'true',
      'false',
      'TRUE',
      '1',
      '',
      'title',
      '-title',
      'created_at',
      '-updated_at',
      'id',
      'title; DROP TABLE tasks',
      '0',
      '500',
      '501',
      '-1',
      '1e2',
      '99999999999999999999',
      '0x10',
      ' 5',
      'eyJ0IjoxfQ',
      'W10.AAAAAAAAAAAA',
    ),
    urlSafeString,
    fc.constantFrom('%ED%A0%80', '%C0%AF', '%', '%zz').map((raw) => ({ raw })),
  );
  const queryKey = fc.constantFrom(
    'completed',
    'sort',
    'limit',
    'cursor',
    'limit[]',
    'sort[a]',
    '__proto__',
    'constructor',
    'unknown',
    '',
  );

  it('query strings: a page or a VALIDATION_ERROR, never more than the limit', async () => {
    await run(
      fc.asyncProperty(
        fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }),
        async (pairs) => {
          const query = pairs
            .map(
              ([key, value]) =>
                `${encodeURIComponent(key)}=${typeof value === 'string' ? encodeURIComponent(value) : value.raw}`,
            )
            .join('&');
          const response = await send({ method: 'GET', url: `${TASKS}?${query}`, headers: auth });
          if (response.statusCode === 200) {
            const tasks = response.json() as StoredTask[];
            const limits = pairs
              .filter(([key]) => key === 'limit')
              .map(([, value]) => Number(value));
            expect(tasks.length).toBeLessThanOrEqual(
              limits.length === 1 ? limits[0] : DEFAULT_PAGE_SIZE,
            );
          } else {
            expect(['VALIDATION_ERROR', 'BAD_REQUEST']).toContain(response.json().code);
          }
        },
      ),
      RUNS.query,
    );
  });

  const segment = fc.oneof(
    fc.constantFrom(
      USER,
      'other-user',
      '..',
      '.',
      '%2e%2e',
      '%00',
      '%ff',
      '%',
      '%zz',
      'a%2Fb',
      '00000000-0000-0000-0000-000000000000',
      'not-a-uuid',
      "1' OR '1'='1",
      '%E2%82%AC',
      '%ED%A0%80',
      '%C0%AF',
      'x'.repeat(300),
    ),
    urlSafeString.map((text) => encodeURIComponent(text)),
  );

  it('path segments: never a 5xx, and another user path never reaches the data', async () => {
    await run(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST'),
        segment,
        fc.option(segment, { nil: undefined }),
        fc.boolean(),
        async (method, userSegment, idSegment, complete) => {
          const url =
            `/api/${userSegment}/tasks` +
            (idSegment === undefined ? '' : `/${idSegment}${complete ? '/complete' : ''}`);
          const response = await send({
            method,
            url,
            headers: { ...auth, 'content-type': 'application/json' },
            payload: method === 'PUT' || method === 'POST' ? '{"title":"via path"}' : undefined,
          });
          if (userSegment !== USER && response.statusCode < 400) {
            throw new Error(`${method} ${url} answered ${response.statusCode}`);
          }
        },
      ),
      RUNS.path,
    );
  });

  it('headers: tokens, If-Match, content types and request ids of every shape', async () => {
    const valid = await signToken(USER);
    const other = await signToken('someone-else');
    const authorization = fc.oneof(
      fc.constantFrom(
        `Bearer ${valid}`,
        `bearer ${valid}`,
        `Bearer  ${valid}`,
        `Bearer ${other}`,
        `Bearer ${valid}x`,
        `Bearer ${valid.split('.').slice(0, 2).join('.')}.`,
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        'Bearer',
        'Bearer ',
        `Bearer ${'a'.repeat(10_000)}`,
        `Bearer ${valid}, Bearer ${valid}`,
        `Bearer ${'eyJhbGciOiJub25lIn0'}.${'eyJzdWIiOiJmdXp6LXVzZXIifQ'}.`,
      ),
      hostileString.filter((text) => /^[\t\x20-\x7e]*$/.test(text)).map((text) => `Bearer ${text}`),
    );
    const ifMatch = fc.option(
      fc.constantFrom('*', '"1"', 'W/"1"', '"0"', '"99999999999"', '"1", "2"', '1', '""', 'x'),
      { nil: undefined },
    );
    const requestId = fc.option(
      fc.oneof(
        fc.constantFrom('abc-123', 'x'.repeat(128), 'x'.repeat(129), 'a b', '<id>', ''),
        fc.string({ maxLength: 20 }).filter((text) => /^[\t\x20-\x7e]*$/.test(text)),
      ),
      { nil: undefined },
    );
    await run(
      fc.asyncProperty(
        authorization,
        ifMatch,
        requestId,
        fc.constantFrom('GET', 'PUT', 'PATCH'),
        async (authValue, ifMatchValue, requestIdValue, method) => {
          const headers: Record<string, string> = { authorization: authValue };
          if (ifMatchValue !== undefined) headers['if-match'] = ifMatchValue;
          if (requestIdValue !== undefined) headers['x-request-id'] = requestIdValue;
          const url =
            method === 'PATCH' ? `${TASKS}/${existing.id}/complete` : `${TASKS}/${existing.id}`;
          const isPut = method === 'PUT';
          const response = await send({
            method,
            url,
            headers: isPut ? { ...headers, 'content-type': 'application/json' } : headers,
            payload: isPut ? '{"completed": true}' : undefined,
          });
          if (requestIdValue !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(requestIdValue)) {
            expect(response.headers['x-request-id']).toBe(requestIdValue);
          } else {
            expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
          }
          const authentic = [`Bearer ${valid}`, `bearer ${valid}`, `Bearer  ${valid}`];
          if (!authentic.includes(authValue)) {
            expect(response.statusCode).toBeGreaterThanOrEqual(401);
            expect(response.statusCode).toBeLessThanOrEqual(403);
          }
        },
      ),
      RUNS.headers,
    );
  });

  it('ran at least 2,000 generated requests', () => {
    expect(counts.requests).toBeGreaterThanOrEqual(2000);
  });
});
