import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { type FieldError, RequestValidationError } from './request-errors';

/**
 * The global pipe for bodies and queries: unknown properties are refused, nothing is coerced
 * implicitly (the string "true" is not a boolean), and every failure becomes a
 * `RequestValidationError` listing a message per field.
 */
export class RequestValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      stopAtFirstError: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: false },
      exceptionFactory: (errors) =>
        new RequestValidationError(errors.flatMap((error) => toFieldErrors(error))),
    });
  }

  /** Validated queries by DTO class and query, for `validatedQuery`. */
  private readonly queries = new Map<unknown, RememberedQueries>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query' && metadata.metatype && isJsonObject(value)) {
      return this.validatedQuery(value as object, metadata);
    }
    return this.validated(value, metadata);
  }

  /**
   * Validating a query is a pure function of the query and its DTO class, and the same queries
   * come again and again (every client's first page is `?limit=50` or no query at all), while
   * class-transformer and class-validator cost a tenth of a list request's CPU time and most of
   * its garbage. So each distinct query that passed is remembered (bounded in number and in
   * bytes, the oldest forgotten first) and later requests get a copy of its DTO; a query that
   * fails is never remembered, and is checked (and refused) every time. Nor is a long one (a
   * cursor's: each is used once), which would only push the common queries out.
   */
  private async validatedQuery(value: object, metadata: ArgumentMetadata): Promise<unknown> {
    let remembered = this.queries.get(metadata.metatype);
    if (remembered === undefined) {
      remembered = new RememberedQueries();
      this.queries.set(metadata.metatype, remembered);
    }
    const key = JSON.stringify(value);
    let dto = remembered.get(key);
    if (dto === undefined) {
      dto = Object.freeze((await this.validated(value, metadata)) as object);
      if (key.length <= MAX_REMEMBERED_QUERY_LENGTH) remembered.set(key, dto);
    }
    // A copy: a handler may change its DTO. Query DTOs hold strings, numbers and booleans only.
    return Object.assign(Object.create(Object.getPrototypeOf(dto) as object | null) as object, dto);
  }

  private async validated(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Every body the API reads is an object; `[]`, `"x"`, `1` or `null` would otherwise be
    // reported as missing fields.
    if (metadata.type === 'body' && !isJsonObject(value)) {
      throw RequestValidationError.of('body', 'the body must be a JSON object');
    }
    // Nest's pipe deletes `constructor` and `prototype` keys before validating, and
    // class-transformer silently drops keys that name a method of the DTO (`toString`,
    // `hasOwnProperty`, …), so `forbidNonWhitelisted` never sees them: they are unknown
    // properties all the same. The keys are read before the pipe mutates the value.
    const checked = metadata.type === 'body' || metadata.type === 'query';
    const keys = checked && isJsonObject(value) ? Object.keys(value as object) : [];
    const transformed = await super.transform(value, metadata);
    if (keys.length > 0) {
      const dropped = keys.filter((key) => !Object.hasOwn(transformed as object, key));
      if (dropped.length > 0) {
        throw new RequestValidationError(
          dropped.map((key) => ({ field: key, message: `property ${key} should not exist` })),
        );
      }
    }
    return transformed;
  }
}

/** How many distinct valid queries are remembered per query DTO class (a few hundred bytes each). */
export const VALIDATED_QUERY_CACHE_SIZE = 1000;
/** And how many bytes of them, as `entryBytes` counts them: the bound whatever their lengths. */
export const VALIDATED_QUERY_CACHE_BYTES = 512 * 1024;
/** A query longer than this (as JSON) is validated every time, never remembered. */
export const MAX_REMEMBERED_QUERY_LENGTH = 512;

/**
 * What an entry costs: its key, and the DTO's copies of its strings, at two bytes a character
 * (V8's two-byte strings; one-byte ones cost less), and the objects around them.
 */
const entryBytes = (key: string): number => 4 * key.length + 256;

/** Valid queries of one DTO class, oldest first, bounded in number and in bytes. */
class RememberedQueries {
  private readonly entries = new Map<string, object>();
  private bytes = 0;

  get(key: string): object | undefined {
    return this.entries.get(key);
  }

  set(key: string, dto: object): void {
    this.entries.set(key, dto);
    this.bytes += entryBytes(key);
    while (
      this.entries.size > VALIDATED_QUERY_CACHE_SIZE ||
      this.bytes > VALIDATED_QUERY_CACHE_BYTES
    ) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.bytes -= entryBytes(oldest);
    }
  }
}

const isJsonObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function toFieldErrors(error: ValidationError, parentPath = ''): FieldError[] {
  const field = parentPath ? `${parentPath}.${error.property}` : error.property;
  const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
  return [...own, ...(error.children ?? []).flatMap((child) => toFieldErrors(child, field))];
}
