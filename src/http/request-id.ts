import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

// A caller's id is echoed only when it is short and plain, so it cannot inject into logs or headers.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of specification §4: the caller's `X-Request-Id` when sane, else a new UUID. Set on
 * the raw request so that Fastify, pino-http and the exception filter all see the same id.
 */
export function assignRequestId(request: IncomingMessage): string {
  const header = request.headers[REQUEST_ID_HEADER];
  const id = typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
  (request as IncomingMessage & { id?: string }).id = id;
  return id;
}
