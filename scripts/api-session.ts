/**
 * The curl session of docs/api.md ("Try it"), recorded from a real run:
 *
 *   npm start                         # in one terminal
 *   npm run docs:api                  # in another: rewrites the session in docs/api.md
 *   npm run docs:api -- http://127.0.0.1:4000   # a service elsewhere
 *
 * Each step is sent over a real connection and printed as `curl -i` prints it: the status line,
 * the headers in the order and case the server sent them, then the body. The session's user
 * (`alice`) is emptied first (her live tasks go to the trash, which the session never lists), so
 * the answers are the same on any database. test/api-session.spec.ts records it against the
 * service under test and compares it with docs/api.md, ids, times and request ids aside.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { mintDevelopmentToken } from './token';

export const SESSION_USER = 'alice';
/** The address the printed commands show, wherever the session was recorded. */
const SHOWN_BASE = 'http://localhost:3000';
const DOC = resolve(__dirname, '../docs/api.md');
const BEGIN = '<!-- api-session: begin (npm run docs:api writes what is between these lines) -->';
const END = '<!-- api-session: end -->';

interface Answer {
  status: number;
  statusText: string;
  rawHeaders: string[];
  body: string;
}

/** One HTTP/1.1 exchange; the headers come back as sent (`curl -i` shows them so). */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolveAnswer, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolveAnswer({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          rawHeaders: res.rawHeaders,
          body: text,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A `curl -i` command line and what it prints. */
function printed(command: string, { status, statusText, rawHeaders, body }: Answer): string {
  const headers: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2)
    headers.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  return [`$ ${command}`, `HTTP/1.1 ${status} ${statusText}`, ...headers, '', body].join('\n');
}

/**
 * Runs the session against the service at `base` with `token` (a token for SESSION_USER) and
 * returns it as docs/api.md shows it.
 */
export async function recordSession(base: string, token: string): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const tasks = `/api/${SESSION_USER}/tasks`;
  const bearer = '-H "Authorization: Bearer $TOKEN"';

  // A user with no live task, so that the list shows the session's task alone.
  const existing = await send(base, 'GET', `${tasks}?limit=100`, auth);
  for (const { id } of JSON.parse(existing.body) as { id: string }[]) {
    await send(base, 'DELETE', `${tasks}/${id}`, auth);
  }

  const steps: string[] = [];
  const payload = JSON.stringify({ title: 'Buy milk', description: '2 litres' });
  const created = await send(
    base,
    'POST',
    tasks,
    { ...auth, 'content-type': 'application/json' },
    payload,
  );
  steps.push(
    printed(
      `curl -i -X POST ${SHOWN_BASE}${tasks} ${bearer} -H "Content-Type: application/json" -d '${payload}'`,
      created,
    ),
  );
  const task = `${tasks}/${(JSON.parse(created.body) as { id: string }).id}`;
  steps.push(
    printed(`curl -i ${SHOWN_BASE}${tasks} ${bearer}`, await send(base, 'GET', tasks, auth)),
  );
  steps.push(
    printed(
      `curl -i -X PATCH ${SHOWN_BASE}${task}/complete ${bearer} -H 'If-Match: "1"'`,
      await send(base, 'PATCH', `${task}/complete`, { ...auth, 'if-match': '"1"' }),
    ),
  );
  steps.push(
    printed(
      `curl -i -X DELETE ${SHOWN_BASE}${task} ${bearer}`,
      await send(base, 'DELETE', task, auth),
    ),
  );
  steps.push(
    printed(`curl -i ${SHOWN_BASE}${task} ${bearer}`, await send(base, 'GET', task, auth)),
  );
  return [
    '```console',
    `$ TOKEN=$(npm run -s token -- ${SESSION_USER})`,
    '',
    steps.join('\n\n'),
    '```',
  ].join('\n');
}

/** The recorded session in docs/api.md, between its markers. */
export function documentedSession(doc = readFileSync(DOC, 'utf8')): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/api.md has no ${BEGIN} ... ${END} block`);
  return doc.slice(begin + BEGIN.length, end).trim();
}

function writeSession(session: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const unchanged = documentedSession(doc) === session;
  const begin = doc.indexOf(BEGIN) + BEGIN.length;
  writeFileSync(DOC, `${doc.slice(0, begin)}\n${session}\n${doc.slice(doc.indexOf(END))}`);
  process.stdout.write(`docs/api.md: session ${unchanged ? 'unchanged' : 'rewritten'}\n`);
}

async function main(): Promise<void> {
  const base = process.argv[2] ?? 'http://127.0.0.1:3000';
  // The token the session's first command prints, from the same script.
  const token = await mintDevelopmentToken(SESSION_USER);
  writeSession(await recordSession(base, token));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    const cause =
      (error as { cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
    process.stderr.write(
      cause === 'ECONNREFUSED'
        ? `No service answers at ${process.argv[2] ?? 'http://127.0.0.1:3000'}: start it (npm start) first.\n`
        : `${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
