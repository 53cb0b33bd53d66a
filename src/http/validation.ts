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
  private readonly queries = new Map<unknown, Map<string, object>>();

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
   * its garbage. So each distinct query that passed is remembered (a bounded number, the oldest
   * forgotten first) and later requests get a copy of its DTO; a query that fails is never
   * remembered, and is checked (and refused) every time.
   */
  private async validatedQuery(value: object, metadata: ArgumentMetadata): Promise<unknown> {
    let byQuery = this.queries.get(metadata.metatype);
    if (byQuery === undefined) {
      byQuery = new Map();
      this.queries.set(metadata.metatype, byQuery);
    }
    const key = JSON.stringify(value);
    let dto = byQuery.get(key);
    if (dto === undefined) {
      dto = Object.freeze((await this.validated(value, metadata)) as object);
      if (byQuery.size >= VALIDATED_QUERY_CACHE_SIZE) {
        byQuery.delete(byQuery.keys().next().value as string);
      }
      byQuery.set(key, dto);
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

const isJsonObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function toFieldErrors(error: ValidationError, parentPath = ''): FieldError[] {
  const field = parentPath ? `${parentPath}.${error.property}` : error.property;
  const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
  return [...own, ...(error.children ?? []).flatMap((child) => toFieldErrors(child, field))];
}
