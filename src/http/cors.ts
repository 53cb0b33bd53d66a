import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RATE_LIMIT_HEADER_NAMES } from './rate-limit.headers';

type CorsOptions = NonNullable<Parameters<NestFastifyApplication['enableCors']>[0]>;

/**
 * CORS for the browser front ends of CORS_ORIGINS (specification §3): the listed origins only (echoed,
 * never `*`, since credentials are allowed), with the headers the API reads and the ones scripts
 * need to see. An origin not on the list gets no CORS headers at all.
 */
export function corsOptions(origins: string[]): CorsOptions {
  const allowed = new Set(origins);
  return {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Idempotency-Key for safe retries of creates, Last-Event-ID for resuming an event stream,
    // If-None-Match for conditional reads; Mcp-Protocol-Version: what an MCP client in a browser
    // sends to /mcp after initialising.
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'If-Match',
      'If-None-Match',
      'Idempotency-Key',
      'Last-Event-ID',
      'X-Request-Id',
      'Mcp-Protocol-Version',
    ],
    // Retry-After and WWW-Authenticate too, so that browser code can back off and re-authenticate.
    exposedHeaders: [
      'Location',
      'ETag',
      'Link',
      'X-Request-Id',
      'Retry-After',
      'WWW-Authenticate',
      ...RATE_LIMIT_HEADER_NAMES,
    ],
    // Browsers cache a preflight this long (most cap it at 2 hours).
    maxAge: 7200,
  };
}
