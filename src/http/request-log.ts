import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Level, Logger } from 'pino';

/**
 * What the exception filter learnt about a request that failed on the server's side (5xx), so
 * that the request's one log line says why: the exception itself when it was unexpected, or the
 * error's name and SQLSTATE when the database was at fault.
 */
export interface RequestFailure {
  detail: string;
  /** Only for unexpected errors: the exception, logged with its own stack. */
  err?: unknown;
  error?: string;
  sqlState?: string;
}

/** The Node request, as the request id, the guard and the exception filter annotate it. */
type LoggedRequest = IncomingMessage & { userId?: string; failure?: RequestFailure };

/** Called by the exception filter; the request's log line carries it (see `logRequests`). */
export function noteFailure(request: object, failure: RequestFailure): void {
  (request as LoggedRequest).failure = failure;
}

const isProbe = (url: string): boolean =>
  url === '/health' || url.startsWith('/health/') || url === '/metrics';

/**
 * One level per outcome: an unexpected error is an error; any other 5xx (the database down,
 * readiness while shutting down) is expected in operation and a warning; probes that succeed
 * are debug, so that they do not drown the rest; other client errors are warnings.
 */
function levelOf(url: string, status: number, failure: RequestFailure | undefined): Level {
  if (failure?.err !== undefined) return 'error';
  if (status >= 500) return 'warn';
  if (isProbe(url)) return 'debug';
  return status >= 400 ? 'warn' : 'info';
}

/**
 * The line per request of specification §6, written when the response has gone: request id,
 * method, URL, route template, status, duration in ms and caller. Written from a Fastify hook
 * with the application's one pino logger rather than through pino-http, whose per-request child
 * logger (reached through the middleware bridge) cost an eighth of a request's CPU time; the
 * fields and their names are pino-http's, so log queries keep working.
 */
export function logRequests(
  fastify: FastifyInstance,
  logger: Logger,
  unmatchedRoute: string,
): void {
  // The line's own fields are plain strings and numbers that no redaction path names, so only a
  // line carrying an exception (whose properties could be anything) goes through the redacting
  // logger; the others skip pino's redaction pass, a tenth of the line's cost.
  const unredacted = logger.child({}, { redact: [] });
  fastify.addHook('onResponse', (request, reply, done) => {
    const raw = request.raw as LoggedRequest;
    const status = reply.statusCode;
    const failure = raw.failure;
    const level = levelOf(request.url, status, failure);
    const lineLogger = failure?.err === undefined ? unredacted : logger;
    if (lineLogger.isLevelEnabled(level)) {
      lineLogger[level](
        {
          req: { id: request.id, method: request.method, url: request.url },
          route: request.routeOptions.url ?? unmatchedRoute,
          res: { statusCode: status },
          userId: raw.userId,
          responseTime: Math.round(reply.elapsedTime),
          ...(failure === undefined
            ? {}
            : failure.err === undefined
              ? { error: failure.error, sqlState: failure.sqlState, detail: failure.detail }
              : { err: failure.err, detail: failure.detail }),
        },
        status >= 500 ? 'request errored' : 'request completed',
      );
    }
    done();
  });
}
