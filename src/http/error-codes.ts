/**
 * The error catalogue of specification §4: every `code` a problem-details response can carry, with its
 * HTTP status, but for the not-found code of each owned resource (`TASK_NOT_FOUND`), which is
 * added as the resource is declared. The exception filter (`problem-details.filter.ts`) is the
 * only user; the OpenAPI description and docs/api.md list the same codes.
 */
export const ERROR_CODES = {
  /** Bad body, query or header: a field message per problem in `errors`. */
  VALIDATION_ERROR: 400,
  /** The body is not parseable JSON. */
  INVALID_JSON: 400,
  /** `:id` is not a UUID. */
  INVALID_UUID: 400,
  /** No bearer token. */
  MISSING_TOKEN: 401,
  /** Bad signature, issuer, audience or algorithm; malformed; not yet valid. */
  INVALID_TOKEN: 401,
  /** `exp` has passed (beyond the clock tolerance). */
  TOKEN_EXPIRED: 401,
  /** The path's `:userId` is not the token's subject. */
  FORBIDDEN: 403,
  /** No live task of this owner carries the tag. */
  TAG_NOT_FOUND: 404,
  /** No route matches the method and path. */
  NOT_FOUND: 404,
  /** The path exists but does not serve this method; `Allow` lists those it does. */
  METHOD_NOT_ALLOWED: 405,
  /** An `Idempotency-Key` whose request is still running and could not be waited for. */
  IDEMPOTENCY_KEY_IN_USE: 409,
  /** A changes-feed token older than the tombstones kept: sync again without `since`. */
  SYNC_TOKEN_EXPIRED: 410,
  /** `If-Match` names another version of the task. */
  PRECONDITION_FAILED: 412,
  /** The body is larger than the 64 KiB limit. */
  PAYLOAD_TOO_LARGE: 413,
  /** A body that is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The `Idempotency-Key` was used by the caller for another method, path or body. */
  IDEMPOTENCY_KEY_REUSED: 422,
  /** The caller sent more than RATE_LIMIT_PER_MINUTE requests this minute (`Retry-After`). */
  TOO_MANY_REQUESTS: 429,
  /** Any other refusal by the HTTP layer (a malformed URL, for example); keeps its own 4xx status. */
  BAD_REQUEST: 400,
  /** Anything unexpected; logged with the request id. */
  INTERNAL_ERROR: 500,
  /** The database (or the identity provider's key set) cannot be reached right now. */
  SERVICE_UNAVAILABLE: 503,
  /** This instance already has as many requests in flight as its pool can serve in time. */
  SERVICE_OVERLOADED: 503,
} as const satisfies Record<string, number>;

/**
 * No such item of an owned resource for this owner; another user's is reported the same way
 * (404). Each resource names its own: `TASK_NOT_FOUND`, `LIST_NOT_FOUND`.
 */
export type NotFoundCode = `${Uppercase<string>}_NOT_FOUND`;

export type ErrorCode = keyof typeof ERROR_CODES | NotFoundCode;

const NOT_FOUND_CODES = new Set<string>();

/** Adds a resource's not-found code to the catalogue (`ownedResource` does, for each resource). */
export function registerNotFoundCode(code: NotFoundCode): void {
  if (!/^[A-Z]+(_[A-Z]+)*_NOT_FOUND$/.test(code)) {
    throw new Error(`${code} is not a not-found code (RESOURCE_NOT_FOUND, in capitals)`);
  }
  NOT_FOUND_CODES.add(code);
}

export const isErrorCode = (code: string): code is ErrorCode =>
  Object.hasOwn(ERROR_CODES, code) || NOT_FOUND_CODES.has(code);

/** The HTTP status of a code: a resource's not-found code is 404. */
export const statusOf = (code: ErrorCode): number =>
  Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as keyof typeof ERROR_CODES] : 404;

/** Every code of the catalogue, the resources' not-found codes included. */
export const errorCodes = (): ErrorCode[] => [
  ...(Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]),
  ...([...NOT_FOUND_CODES].sort() as NotFoundCode[]),
];

/** Seconds a client should wait before retrying a 503 (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 5;
