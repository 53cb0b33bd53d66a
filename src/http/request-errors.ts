/** One problem with one input: a body property, a query parameter or a header. */
export interface FieldError {
  field: string;
  message: string;
}

/** The request's body, query or headers are invalid; answered as 400 VALIDATION_ERROR. */
export class RequestValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => error.message).join('; '));
    this.name = 'RequestValidationError';
  }

  static of(field: string, message: string): RequestValidationError {
    return new RequestValidationError([{ field, message }]);
  }
}

/** A path parameter that must be a UUID is not one; answered as 400 INVALID_UUID. */
export class InvalidUuidError extends Error {
  constructor(readonly parameter: string) {
    super(`${parameter} must be a UUID`);
    this.name = 'InvalidUuidError';
  }
}

/** The body's bytes are not a JSON text (not UTF-8, for example); answered as 400 INVALID_JSON. */
export class MalformedBodyError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'MalformedBodyError';
  }
}

/**
 * A bounded resource is full (open event streams, for example): answered as 429
 * TOO_MANY_REQUESTS when the caller holds its share, as 503 SERVICE_UNAVAILABLE when the process
 * does; either way with Retry-After. `detail` is written for the caller.
 */
export class CapacityReachedError extends Error {
  constructor(
    readonly scope: 'caller' | 'process',
    readonly detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(detail);
    this.name = 'CapacityReachedError';
  }
}
