import { request as httpRequest, type IncomingMessage } from 'node:http';

/** One Server-Sent Event as a client parses it. */
export interface ReceivedEvent {
  event: string;
  id: string | undefined;
  data: string;
  at: number;
}

export interface SseConnection {
  status: number;
  headers: IncomingMessage['headers'];
  /** The problem body of a refused stream. */
  body: string;
  events: ReceivedEvent[];
  comments: number;
  /** The id of the last event that carried one, as EventSource keeps it. */
  lastEventId(): string | undefined;
  /** Resolves when `predicate` holds for the events received so far. */
  waitFor(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<number>;
  close(): void;
}

/**
 * A minimal EventSource for tests: GETs `url`, and on a 200 parses the `text/event-stream`
 * (event, id, data fields; comments counted) as the HTML standard does.
 */
export function openEvents(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers } });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: ReceivedEvent[] = [];
      const waiters = new Set<() => void>();
      let comments = 0;
      let body = '';
      let buffer = '';
      let lastId: string | undefined;
      let field = { event: '', id: undefined as string | undefined, data: [] as string[] };
      const ended = new Promise<number>((done) => {
        res.on('close', () => done(performance.now()));
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (res.statusCode !== 200) {
          body += chunk;
          return;
        }
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            if (field.id !== undefined) lastId = field.id;
            if (field.data.length > 0) {
              events.push({
                event: field.event || 'message',
                id: field.id,
                data: field.data.join('\n'),
                at: performance.now(),
              });
            }
            field = { event: '', id: undefined, data: [] };
            continue;
          }
          if (line.startsWith(':')) {
            comments++;
            continue;
          }
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'event') field.event = value;
          else if (name === 'id') field.id = value;
          else if (name === 'data') field.data.push(value);
        }
        waiters.forEach((waiter) => waiter());
      });
      const connection: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        get body() {
          return body;
        },
        events,
        get comments() {
          return comments;
        },
        lastEventId: () => lastId,
        waitFor: (predicate, timeoutMs = 10_000) =>
          new Promise((done, fail) => {
            const check = (): void => {
              if (!predicate(events)) return;
              waiters.delete(check);
              clearTimeout(timer);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `events not as expected within ${timeoutMs} ms: ${JSON.stringify(events)}`,
                ),
              );
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
        ended,
        close: () => {
          req.destroy();
        },
      };
      if (res.statusCode === 200) resolve(connection);
      else res.on('end', () => resolve(connection));
    });
    req.end();
  });
}
