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

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
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

const isJsonObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function toFieldErrors(error: ValidationError, parentPath = ''): FieldError[] {
  const field = parentPath ? `${parentPath}.${error.property}` : error.property;
  const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
  return [...own, ...(error.children ?? []).flatMap((child) => toFieldErrors(child, field))];
}
