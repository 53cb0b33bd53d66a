import { getSchemaPath, type OpenAPIObject } from '@nestjs/swagger';
import { ProblemDetailsDto } from './problem-details.dto';
import { PROBLEM_CONTENT_TYPE } from './problem-details.filter';

// @nestjs/swagger exports the document's type only: its parts are read off it.
type PathItemObject = OpenAPIObject['paths'][string];
type OperationObject = NonNullable<PathItemObject['get']>;
type ResponseObject = Exclude<OperationObject['responses'][string], undefined | { $ref: string }>;
type HeadersObject = NonNullable<ResponseObject['headers']>;

/**
 * The headers @nestjs/throttler sets on every limited response (its `default` throttler, see
 * rate-limit.module.ts), for CORS to expose and OpenAPI to describe.
 */
export const RATE_LIMIT_HEADERS: HeadersObject = {
  'X-RateLimit-Limit': {
    description: 'Requests this caller may make per one-minute window (when rate limiting is on).',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Remaining': {
    description: 'Requests left to this caller in the current window.',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Reset': {
    description: 'Seconds until the current window ends and the allowance is whole again.',
    schema: { type: 'integer' },
  },
};

export const RATE_LIMIT_HEADER_NAMES = Object.keys(RATE_LIMIT_HEADERS);

const TOO_MANY_REQUESTS_RESPONSE: ResponseObject = {
  description: 'Over the rate limit of this caller (code: TOO_MANY_REQUESTS)',
  headers: {
    'Retry-After': {
      description: 'Seconds until this caller may send requests again.',
      schema: { type: 'integer' },
    },
    ...RATE_LIMIT_HEADERS,
  },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetailsDto) } } },
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const satisfies Array<
  keyof PathItemObject
>;

/**
 * Describes the rate limit on every /api operation of the document: the limit headers on its
 * success responses and the 429 it may answer. Done once here rather than per route, since the
 * limiter applies to every /api route alike.
 */
export function withRateLimitResponses(document: OpenAPIObject): OpenAPIObject {
  const operations = Object.entries(document.paths)
    .filter(([path]) => path.startsWith('/api/'))
    .flatMap(([, item]) => METHODS.map((method) => item[method]))
    .filter((operation): operation is OperationObject => operation !== undefined);
  for (const operation of operations) {
    for (const [status, response] of Object.entries(operation.responses)) {
      if (status.startsWith('2') && response !== undefined && !('$ref' in response)) {
        response.headers = { ...response.headers, ...RATE_LIMIT_HEADERS };
      }
    }
    operation.responses['429'] = TOO_MANY_REQUESTS_RESPONSE;
  }
  return document;
}
