import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CODES, type ErrorCode } from './error-codes';
import type { FieldError } from './request-errors';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from './problem-details.filter';

class FieldErrorDto implements FieldError {
  @ApiProperty({ example: 'title' })
  field!: string;

  @ApiProperty({ example: 'title must not be blank' })
  message!: string;
}

/** The OpenAPI schema of `ProblemDetails` (RFC 9457, specification §4). */
export class ProblemDetailsDto implements ProblemDetails {
  @ApiProperty({ example: 'about:blank' })
  type!: string;

  @ApiProperty({ description: 'The HTTP status phrase.', example: 'Bad Request' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiProperty({ description: 'What went wrong and what to do about it.' })
  detail!: string;

  // The resources' not-found codes join the enum when the document is built (openapi.ts).
  @ApiProperty({ enum: Object.keys(ERROR_CODES), example: 'VALIDATION_ERROR' })
  code!: ErrorCode;

  @ApiProperty({ description: 'The request path.', example: '/api/alice/tasks' })
  instance!: string;

  @ApiProperty({ description: 'Also in the X-Request-Id response header and the logs.' })
  request_id!: string;

  @ApiProperty({ type: [FieldErrorDto], required: false, description: 'For VALIDATION_ERROR.' })
  errors?: FieldError[];
}

/** Documents an error response of a route: its status, the codes it can carry, and the schema. */
export const ApiProblemResponse = (status: number, codes: ErrorCode[], description: string) =>
  applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ApiResponse({
      status,
      description: `${description} (code: ${codes.join(', ')})`,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetailsDto) } } },
      ...(status === 401
        ? {
            headers: {
              'WWW-Authenticate': {
                description: 'Bearer challenge (RFC 6750)',
                schema: { type: 'string' },
              },
            },
          }
        : {}),
      ...(status === 503
        ? {
            headers: {
              'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } },
            },
          }
        : {}),
    }),
  );
