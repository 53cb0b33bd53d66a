import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  type HttpServer,
  HttpStatus,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import {
  AuthError,
  ExpiredTokenError,
  InvalidTokenError,
  KeySetUnavailableError,
  MissingTokenError,
  OwnerMismatchError,
} from '../auth/auth.errors';
import {
  DatabaseUnavailableError,
  DataLayerError,
  DataValidationError,
} from '../database/data-layer.errors';
import {
  InvalidInputError,
  ResourceNotFoundError,
  VersionConflictError,
} from '../database/resource.errors';
import { ServiceOverloadedError } from '../health/request-shedding';
import { PagesInFlightError } from '../owned-resources/page-memory';
import {
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  SyncTokenExpiredError,
} from '../sync/sync.errors';
import { type ErrorCode, isErrorCode, RETRY_AFTER_SECONDS, statusOf } from './error-codes';
import type { RouteMethods } from './route-methods';
import {
  CapacityReachedError,
  type FieldError,
  InvalidUuidError,
  MalformedBodyError,
  RequestValidationError,
} from './request-errors';
import { noteFailure } from './request-log';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details, as every error response carries them (specification §4). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance: string;
  request_id: string;
  errors?: FieldError[];
}

/** What an exception means for the caller, before the request's own details are added. */
interface Problem {
  code: ErrorCode;
  detail: string;
  /** Only where a code allows several statuses (BAD_REQUEST keeps the framework's 4xx). */
  status?: number;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

/** The Node request, with the id `assignRequestId` gave it. */
type RawRequest = Pick<IncomingMessage, 'method' | 'url'> & { id?: unknown };

const REALM = 'Bearer realm="tasks"';
const retryLater = { 'Retry-After': String(RETRY_AFTER_SECONDS) };

/**
 * The one exception filter, registered once in `createApp`: every error — thrown by a handler,
 * a guard or a pipe, or raised by Fastify itself (body parsing, unknown routes) — leaves as
 * `application/problem+json`. This is also the one place that maps domain errors to HTTP.
 * Server-side failures are noted for the request's log line (unexpected errors with their stack);
 * no response carries a stack trace, SQL or a driver message.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(
    private readonly adapter: HttpServer,
    private readonly routes?: RouteMethods,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const request = context.getRequest<{ raw?: RawRequest } & RawRequest>();
    this.respond(exception, request.raw ?? request, context.getResponse<object>());
  }

  /**
   * Sends the response for `exception`. Also called directly for the errors Fastify raises while
   * routing (a malformed URL, an over-long parameter), which reach no hook and no Nest filter.
   */
  respond(exception: unknown, request: RawRequest, response: object): void {
    const adapter = this.adapter;
    const requestId = typeof request.id === 'string' ? request.id : 'unknown';
    if (adapter.isHeadersSent(response)) {
      this.logger.error({ err: exception, requestId }, 'error after the response was sent');
      adapter.end(response);
      return;
    }
    const healthResult = healthCheckFailure(exception);
    if (healthResult) {
      // Terminus's own 503 body is the health endpoints' contract (specification §3).
      adapter.reply(response, healthResult, HttpStatus.SERVICE_UNAVAILABLE);
      return;
    }

    const allowed = this.methodsServedInstead(exception, request);
    if (allowed && request.method === 'OPTIONS') {
      // RFC 9110 §9.3.7: OPTIONS on a known path (not a CORS preflight) lists its methods.
      adapter.setHeader(response, 'Allow', allowed);
      adapter.reply(response, undefined, HttpStatus.NO_CONTENT);
      return;
    }
    const problem = allowed ? methodNotAllowed(request, allowed) : describe(exception, request);
    const status = problem.status ?? statusOf(problem.code);
    this.noteServerFailure(exception, problem, request);
    for (const [name, value] of Object.entries(problem.headers ?? {})) {
      adapter.setHeader(response, name, value);
    }
    adapter.setHeader(response, 'Content-Type', PROBLEM_CONTENT_TYPE);
    const body: ProblemDetails = {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail: problem.detail,
      code: problem.code,
      instance: pathOf(request.url),
      request_id: requestId,
      ...(problem.errors ? { errors: problem.errors } : {}),
    };
    adapter.reply(response, body, status);
  }

  /** For a request no route matched: the `Allow` value when its path is served with other
   * methods (OPTIONS included, answered here), else null. */
  private methodsServedInstead(exception: unknown, request: RawRequest): string | null {
    if (!(exception instanceof HttpException) || exception.getStatus() !== HttpStatus.NOT_FOUND) {
      return null;
    }
    const methods = this.routes?.allowedAt(request.url ?? '/') ?? [];
    // A path that matched only through an empty parameter (`/tasks/` as `/tasks/:id`) was not
    // served with the request's own method either: not a 405 whose Allow lists that method.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (methods.length === 0 || (method !== undefined && methods.includes(method))) return null;
    return [...methods, 'OPTIONS'].join(', ');
  }

  /** Server-side failures are logged once, on the request's own line (http/request-log.ts). */
  private noteServerFailure(exception: unknown, problem: Problem, request: RawRequest): void {
    if (problem.code === 'INTERNAL_ERROR') {
      noteFailure(request, { err: exception, detail: problem.detail });
    } else if (problem.code === 'SERVICE_UNAVAILABLE' || problem.code === 'SERVICE_OVERLOADED') {
      const sqlState = exception instanceof DataLayerError ? exception.sqlState : undefined;
      noteFailure(request, { error: errorName(exception), sqlState, detail: problem.detail });
    }
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;
type Describe = (error: Error) => Problem;

/**
 * The one table from error classes to problems: the domain's, the data layer's, the request's
 * and authentication's. Errors shared by every resource carry what differs per resource (the
 * not-found code, the noun), so a new resource adds a code to the catalogue, not an entry here.
 */
const PROBLEMS = new Map<ErrorClass<Error>, Describe>();
const problemFor = <E extends Error>(
  type: ErrorClass<E>,
  describe: (error: E) => Problem,
): void => {
  PROBLEMS.set(type, describe as Describe);
};

problemFor(RequestValidationError, (error) => validationProblem(error.errors));
problemFor(InvalidUuidError, (error) => ({
  code: 'INVALID_UUID',
  detail: `The ${error.parameter} in the path must be a UUID, such as 0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21.`,
}));
problemFor(MalformedBodyError, (error) => ({ code: 'INVALID_JSON', detail: error.message }));
problemFor(ResourceNotFoundError, (error) => ({
  // The code is the resource's own (TASK_NOT_FOUND); an unknown one is a generic 404.
  code: isErrorCode(error.code) ? error.code : 'NOT_FOUND',
  detail: `No ${error.noun} ${error.id} exists for this user.`,
}));
problemFor(VersionConflictError, (error) => ({
  code: 'PRECONDITION_FAILED',
  detail:
    `The ${error.noun} is at version ${error.currentVersion}, not ${error.expectedVersion} as If-Match requires: ` +
    'fetch it again, then retry with its current ETag.',
}));
problemFor(IdempotencyKeyReusedError, () => ({
  code: 'IDEMPOTENCY_KEY_REUSED',
  detail:
    'This Idempotency-Key was used for another request (method, path or body): use a new key for a new request.',
}));
problemFor(IdempotencyKeyInUseError, () => ({
  code: 'IDEMPOTENCY_KEY_IN_USE',
  detail: `A request with this Idempotency-Key is still being processed; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  headers: retryLater,
}));
problemFor(SyncTokenExpiredError, (error) => ({
  code: 'SYNC_TOKEN_EXPIRED',
  detail: `The sync token is older than the ${error.resource} deletions this service keeps: drop the local copy and sync again without since.`,
}));
problemFor(InvalidInputError, (error) =>
  validationProblem([{ field: error.field ?? 'body', message: error.message }]),
);
problemFor(DataValidationError, (error) =>
  validationProblem([{ field: error.field ?? 'body', message: error.message }]),
);
problemFor(DatabaseUnavailableError, () => ({
  code: 'SERVICE_UNAVAILABLE',
  detail: `The database is unavailable right now; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  headers: retryLater,
}));
problemFor(CapacityReachedError, (error) => ({
  code: error.scope === 'caller' ? 'TOO_MANY_REQUESTS' : 'SERVICE_UNAVAILABLE',
  detail: error.detail,
  headers: { 'Retry-After': String(error.retryAfterSeconds) },
}));
problemFor(ServiceOverloadedError, () => ({
  code: 'SERVICE_OVERLOADED',
  detail: `This instance has as many requests in flight as the database can serve in time; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  headers: retryLater,
}));
problemFor(PagesInFlightError, () => ({
  code: 'SERVICE_OVERLOADED',
  detail: `This instance holds as many pages as its memory allows; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  headers: retryLater,
}));
problemFor(MissingTokenError, () => ({
  code: 'MISSING_TOKEN',
  detail: 'Send a token in the Authorization header: "Authorization: Bearer <token>".',
  headers: { 'WWW-Authenticate': REALM },
}));
problemFor(ExpiredTokenError, () => ({
  code: 'TOKEN_EXPIRED',
  detail: 'The bearer token has expired: sign in again for a new one.',
  headers: {
    'WWW-Authenticate': `${REALM}, error="invalid_token", error_description="The token has expired"`,
  },
}));
problemFor(OwnerMismatchError, () => ({
  code: 'FORBIDDEN',
  detail:
    "A token gives access to its own user's data only: the path's user id must be the token's subject.",
}));
problemFor(KeySetUnavailableError, (error) => ({
  code: 'SERVICE_UNAVAILABLE',
  detail: `${error.message}; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  headers: retryLater,
}));
// InvalidTokenError, and any other refusal of a token.
problemFor(AuthError, (error) => ({
  code: 'INVALID_TOKEN',
  detail: `${error instanceof InvalidTokenError ? error.message : 'The bearer token is invalid'}. Sign in again for a new token.`,
  headers: {
    'WWW-Authenticate': `${REALM}, error="invalid_token", error_description="The token is invalid"`,
  },
}));

/** The problem of the nearest class in the table, walking up from the error's own class. */
function tabulated(exception: unknown): Problem | undefined {
  if (!(exception instanceof Error)) return undefined;
  for (
    let prototype: object | null = Object.getPrototypeOf(exception);
    prototype;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    const describe = PROBLEMS.get(prototype.constructor as ErrorClass<Error>);
    if (describe) return describe(exception);
  }
  return undefined;
}

function describe(exception: unknown, request: RawRequest): Problem {
  const problem = tabulated(exception);
  if (problem) return problem;
  if (exception instanceof HttpException) {
    return httpProblem(exception.getStatus(), exception.message, exception.cause, request);
  }
  if (isFastifyError(exception)) {
    return httpProblem(exception.statusCode, exception.message, exception, request);
  }
  return INTERNAL_ERROR;
}

function methodNotAllowed(request: RawRequest, allowed: string): Problem {
  return {
    code: 'METHOD_NOT_ALLOWED',
    detail: `${request.method} is not served at ${pathOf(request.url)}: use one of ${allowed}.`,
    headers: { Allow: allowed },
  };
}

const INTERNAL_ERROR: Problem = {
  code: 'INTERNAL_ERROR',
  detail: 'An unexpected error occurred. If it persists, report it with the request id.',
};

/** How many field errors an answer lists, and how long a field name or message it quotes. */
export const MAX_LISTED_ERRORS = 20;
export const MAX_QUOTED_LENGTH = 200;

const quoted = (text: string): string =>
  text.length <= MAX_QUOTED_LENGTH ? text : `${text.slice(0, MAX_QUOTED_LENGTH)}…`;

/**
 * The first MAX_LISTED_ERRORS field errors, names and messages cut at MAX_QUOTED_LENGTH: a request
 * of thousands of unknown fields (or of a field named by 60 KB) gets an answer of a few KB, not
 * one larger than itself.
 */
function validationProblem(all: FieldError[]): Problem {
  const errors = all.slice(0, MAX_LISTED_ERRORS).map(({ field, message }) => ({
    field: quoted(field),
    message: quoted(message),
  }));
  const more = all.length - errors.length;
  const messages = errors.map((error) => error.message).join('; ');
  const andMore = more > 0 ? `; and ${more} more problems not listed` : '';
  return {
    code: 'VALIDATION_ERROR',
    detail: `The request is invalid: ${messages}${andMore}.`,
    errors,
  };
}

// Fastify's own messages for these quote the whole path.
const ROUTING_ERRORS: Record<string, string> = {
  FST_ERR_BAD_URL:
    'The path of the URL is not valid: it holds a malformed percent-encoding. Encode it as UTF-8.',
  FST_ERR_MAX_PARAM_LENGTH: 'A segment of the path is too long.',
};

/**
 * Exceptions of Nest, and errors of Fastify: those Nest's adapter wraps in an `HttpException`
 * (keeping the Fastify error as the cause) and the routing errors it never sees.
 */
function httpProblem(
  status: number,
  message: string,
  cause: unknown,
  request: RawRequest,
): Problem {
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  switch (status) {
    case HttpStatus.BAD_REQUEST:
      if (causeCode === 'FST_ERR_CTP_INVALID_JSON_BODY' || cause instanceof SyntaxError) {
        return { code: 'INVALID_JSON', detail: 'The request body is not valid JSON.' };
      }
      break;
    case HttpStatus.NOT_FOUND:
      return {
        code: 'NOT_FOUND',
        detail: `No route matches ${request.method} ${pathOf(request.url)}.`,
      };
    case HttpStatus.PAYLOAD_TOO_LARGE:
      return {
        code: 'PAYLOAD_TOO_LARGE',
        detail: 'The request body is larger than the limit of 64 KiB.',
      };
    case HttpStatus.UNSUPPORTED_MEDIA_TYPE:
      return {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        detail: 'Send the request body as JSON, with "Content-Type: application/json".',
      };
    case HttpStatus.TOO_MANY_REQUESTS:
      // The rate limiter has set Retry-After (http/rate-limit.module.ts).
      return {
        code: 'TOO_MANY_REQUESTS',
        detail: 'Too many requests from this caller: retry after the seconds given in Retry-After.',
      };
  }
  if (status >= 500) return INTERNAL_ERROR;
  const routingError = typeof causeCode === 'string' ? ROUTING_ERRORS[causeCode] : undefined;
  // Otherwise framework messages (a bad Content-Length, for example) are written for clients.
  return { code: 'BAD_REQUEST', status, detail: routingError ?? message.replace(/\.?$/, '.') };
}

const isFastifyError = (error: unknown): error is Error & { statusCode: number } =>
  error instanceof Error &&
  error.name === 'FastifyError' &&
  typeof (error as { statusCode?: unknown }).statusCode === 'number';

/** The Terminus result of a failed health check, which is thrown as a 503. */
function healthCheckFailure(exception: unknown): object | null {
  if (!(exception instanceof ServiceUnavailableException)) return null;
  const body = exception.getResponse();
  return typeof body === 'object' && 'status' in body && 'details' in body ? body : null;
}

/** The longest path an answer quotes (a user id of 255 characters, percent-encoded, fits). */
const MAX_QUOTED_PATH = 1024;
// RFC 3986 path characters, percent-escapes well formed.
const PLAIN_PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;

/**
 * The path of `url` as an answer may quote it (`instance`, a detail): only when it is plain and
 * not too long, else `/`. A 414's or a malformed URL's path is the client's raw bytes, which an
 * answer must not echo.
 */
export function quotablePath(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0];
  return path.length <= MAX_QUOTED_PATH && PLAIN_PATH.test(path) ? path : '/';
}

const pathOf = quotablePath;

const errorName = (error: unknown): string => (error instanceof Error ? error.name : typeof error);
