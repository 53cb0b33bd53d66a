/**
 * The data layer's error hierarchy. The HTTP layer maps these to responses in one place
 * (`http/problem-details.filter.ts`); a driver error never crosses this boundary as itself, so
 * its SQL, parameters and stack cannot reach a client.
 */
export class DataLayerError extends Error {
  constructor(
    message: string,
    /** SQLSTATE of the driver error behind this one, when there was one: safe to log. */
    readonly sqlState?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The database could not be reached, or did not answer within the configured timeouts. */
export class DatabaseUnavailableError extends DataLayerError {}

/** Input the database refused (a check constraint, a too-long value): the caller's mistake. */
export class DataValidationError extends DataLayerError {
  constructor(
    message: string,
    readonly field: string | null,
    sqlState?: string,
  ) {
    super(message, sqlState);
  }
}

interface DriverError {
  code?: string;
  /** PostgreSQL's severity: FATAL and PANIC end the session, whatever the code. */
  severity?: string;
  constraint?: string;
  message?: string;
}

// Severities with which the server ends the session: whatever the SQLSTATE (55000 "database is
// not currently accepting connections", 3D000 after a database was dropped, 28P01 after a
// password rotation), the service cannot reach its data, and the caller is not at fault.
const SESSION_ENDING_SEVERITIES = new Set(['FATAL', 'PANIC']);
// SQLSTATE classes and codes that mean "the database is not there right now", retryable.
const UNAVAILABLE_CLASSES = ['08', '53', '57P'];
const UNAVAILABLE_CODES = new Set(['57014', '40001', '40P01', '55P03', '25006']);
// Node and node-postgres errors raised before a statement reaches the server.
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /query read timeout/i,
  /connection terminated/i,
  /connection timeout/i,
  /Client has encountered a connection error/i,
  /Cannot use a pool after calling end/i,
  /Client was closed and is not queryable/i,
];

// Class 22's date and time conditions (PostgreSQL, Appendix A).
const DATETIME_CODES = new Set(['22007', '22008', '22009', '22015']);

/**
 * A feature's named constraints, and the input field each protects: a violation is the caller's
 * mistake in that field (`message` tells what was wrong, else a generic refusal).
 */
export type ConstraintFields = Readonly<Record<string, { field: string; message?: string }>>;

/** Turns whatever the driver threw into a `DataLayerError`, keeping only the SQLSTATE. */
export function translateDriverError(
  error: unknown,
  constraintFields: ConstraintFields = {},
): DataLayerError {
  if (error instanceof DataLayerError) return error;
  const driverError = (error ?? {}) as DriverError;
  const code = typeof driverError.code === 'string' ? driverError.code : undefined;
  const message = typeof driverError.message === 'string' ? driverError.message : '';

  if (
    (typeof driverError.severity === 'string' &&
      SESSION_ENDING_SEVERITIES.has(driverError.severity)) ||
    (code &&
      (UNAVAILABLE_CODES.has(code) ||
        UNAVAILABLE_NODE_CODES.has(code) ||
        UNAVAILABLE_CLASSES.some((prefix) => code.startsWith(prefix)))) ||
    UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))
  ) {
    return new DatabaseUnavailableError('The database is unavailable', code);
  }
  // 23514 check, 23502 not null, 23503 foreign key (a reference to a row that is not there).
  if (code === '23514' || code === '23502' || code === '23503') {
    const constraint = driverError.constraint;
    const known =
      constraint && Object.hasOwn(constraintFields, constraint)
        ? constraintFields[constraint]
        : undefined;
    return new DataValidationError(
      known?.message ?? 'The database refused the value',
      known?.field ?? null,
      code,
    );
  }
  if (code === '22001') {
    return new DataValidationError('A value is longer than its column allows', null, code);
  }
  if (code === '22021' || code === '22P05') {
    return new DataValidationError('A value contains a character the database refuses', null, code);
  }
  // 22007 invalid datetime format, 22008 datetime field overflow, 22009 invalid time zone, …
  if (code && DATETIME_CODES.has(code)) {
    return new DataValidationError('A date or time is not one the database accepts', null, code);
  }
  // The rest of class 22, "data exception": a value the statement cannot take (a number out of
  // range, a malformed text representation). Only input reaches a statement as a value.
  if (code?.startsWith('22')) {
    return new DataValidationError('A value is not one the database accepts', null, code);
  }
  return new DataLayerError('The database failed to execute a statement', code);
}
