import type {
  HeaderObject,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
  TagObject,
} from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { MAX_HEADER_BYTES } from './client-errors';
import type { ErrorCode } from './error-codes';
import { PROBLEM_CONTENT_TYPE } from './problem-details.filter';
import { API_CACHE_CONTROL } from './security-headers';

/**
 * What every route shares at the HTTP edge, added to the generated document in one place so
 * that each resource's decorators describe only the resource: the statuses any request can get
 * (429, 414, 413, 415, 431, 408, 405, 304), the headers that are always sent (marked required), exact
 * object schemas, the `If-Match`/`If-None-Match` formats, public routes marked public, and a
 * server. The rules follow the code that answers: the body parser, the exception filter, the
 * rate limiter, the client-error handler and the conditional-GET hook of `src/http`.
 */
export function describeTheEdge(document: OpenAPIObject): OpenAPIObject {
  document.servers = [{ url: '/', description: 'The host that serves this document' }];
  document.tags = tagsOf(document);
  const components = (document.components ??= {});
  components.responses = { ...components.responses, ...sharedResponses() };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) describeOperation(path, method, operation);
    }
  }
  for (const schema of Object.values(components.schemas ?? {})) {
    if (!isReference(schema) && schema.type === 'object') schema.additionalProperties = false;
  }
  requireSomePropertyOfPartialBodies(document);
  return document;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
type Method = (typeof METHODS)[number];
const BODY_METHODS: ReadonlySet<Method> = new Set(['post', 'put', 'patch', 'delete']);

const PROBLEM_SCHEMA_REF = '#/components/schemas/ProblemDetailsDto';

/** The headers sent on every response of a status that declares them: marked required. */
const ALWAYS_SENT = new Set(
  ['ETag', 'Location', 'WWW-Authenticate', 'Retry-After', 'Allow'].map((name) =>
    name.toLowerCase(),
  ),
);

/**
 * The text rules of the body validators, as JSON Schema patterns for `@ApiProperty({ pattern })`:
 * no NUL character (PostgreSQL refuses it in text), and for a required text such as a title,
 * at least one character that is not white space (the value is stored trimmed).
 */
export const TEXT_PATTERNS = {
  noNul: '^[^\\u0000]*$',
  notBlankNoNul: '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$',
} as const;

/** `*` or one strong tag this service issued (http/entity-tag.ts). */
export const IF_MATCH_PATTERN = '^(\\*|"[1-9][0-9]{0,9}")$';

const header = (description: string, schema: SchemaObject = { type: 'string' }): HeaderObject => ({
  description,
  required: true,
  schema,
});

const requestIdHeader = header(
  "The request id: the caller's X-Request-Id when sane, else a new UUID; also in the body of a problem and in the logs.",
);
const cacheControlHeader = header(`Always \`${API_CACHE_CONTROL}\`.`, {
  type: 'string',
  enum: [API_CACHE_CONTROL],
});
const retryAfterHeader = header('Seconds to wait before retrying.', {
  type: 'integer',
  minimum: 0,
});

function problem(
  status: number,
  codes: ErrorCode[],
  description: string,
  headers: Record<string, HeaderObject> = {},
): ResponseObject {
  return {
    description: `${description} (code: ${codes.join(', ')})`,
    headers,
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: PROBLEM_SCHEMA_REF } } },
  };
}

/** Answers of the router itself, not of an operation: referenced by `describeTheEdge`'s users
 * (the API tests validate 404s and 405s against them). */
function sharedResponses(): Record<string, ResponseObject> {
  return {
    NotFound: problem(404, ['NOT_FOUND'], 'No route has this path'),
    MethodNotAllowed: methodNotAllowed(),
  };
}

/** `:userId` is bound to the token's subject by the global guard, on whichever route has it. */
const OWNER_PARAMETER: ParameterObject = {
  name: 'userId',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: "The caller's user id: must be the token's subject.",
};

function methodNotAllowed(): ResponseObject {
  return problem(
    405,
    ['METHOD_NOT_ALLOWED'],
    'The path exists, but not with this method; OPTIONS on it answers 204 with the same Allow',
    { Allow: header('The methods the path serves, for example `GET, HEAD, POST, OPTIONS`.') },
  );
}

function describeOperation(path: string, method: Method, operation: OperationObject): void {
  const isApi = path.startsWith('/api/');
  const parameters = (operation.parameters ??= []);
  const named = (name: string) =>
    parameters.some((parameter) => !isReference(parameter) && parameter.name === name);
  if (path.includes('{userId}') && !named('userId')) parameters.unshift(OWNER_PARAMETER);
  // Routes are private by declaring a scheme; one that declares none is public, and says so.
  operation.security ??= [];
  const responses = operation.responses;
  const addIfMissing = (status: number, response: ResponseObject): void => {
    responses[String(status)] ??= response;
  };

  addIfMissing(
    400,
    problem(400, ['BAD_REQUEST'], 'The request is not valid HTTP (its framing or Host)'),
  );
  addIfMissing(
    431,
    problem(
      431,
      ['BAD_REQUEST'],
      `The request line and headers exceed ${MAX_HEADER_BYTES / 1024} KiB`,
    ),
  );
  addIfMissing(
    408,
    problem(
      408,
      ['BAD_REQUEST'],
      'The request was not received in time (headers within 10 s, the whole request within 30 s)',
    ),
  );
  // Not this operation's own answer: the path's, to the methods it does not serve.
  addIfMissing(405, methodNotAllowed());
  if (isApi) {
    addIfMissing(414, problem(414, ['BAD_REQUEST'], 'A segment of the path is too long'));
    addIfMissing(
      429,
      problem(429, ['TOO_MANY_REQUESTS'], 'Over the rate limit', {
        'Retry-After': retryAfterHeader,
      }),
    );
  }
  if (BODY_METHODS.has(method)) {
    addIfMissing(413, problem(413, ['PAYLOAD_TOO_LARGE'], 'The body is over 64 KiB'));
    addIfMissing(
      415,
      problem(415, ['UNSUPPORTED_MEDIA_TYPE'], 'A body that is not application/json'),
    );
  }
  const ok = responses['200'];
  if (method === 'get' && ok && !isReference(ok) && ok.headers?.ETag) {
    addIfMissing(304, {
      description: 'Not Modified: If-None-Match names the current ETag; no body.',
      headers: { ETag: ok.headers.ETag },
    });
    (operation.parameters ??= []).push({
      name: 'If-None-Match',
      in: 'header',
      required: false,
      description: 'ETags the client holds: when one is current, the answer is 304 with no body.',
      schema: { type: 'string' },
    });
  }

  for (const parameter of operation.parameters ?? []) {
    if (!isReference(parameter)) describeParameter(parameter);
  }
  for (const [status, response] of Object.entries(responses)) {
    if (!response || isReference(response) || !STATUS_CODES[Number(status)]) continue;
    const headers = (response.headers ??= {});
    for (const [name, value] of Object.entries(headers)) {
      if (!isReference(value) && ALWAYS_SENT.has(name.toLowerCase())) value.required = true;
    }
    headers['X-Request-Id'] = requestIdHeader;
    if (isApi) headers['Cache-Control'] = cacheControlHeader;
  }
  if (takesIdempotencyKey(operation)) {
    const created = responses['201'];
    const etag = created && !isReference(created) ? created.headers?.ETag : undefined;
    if (etag && !isReference(etag)) {
      etag.required = false;
      etag.description = `${etag.description ?? 'The version'}; absent on a replay (Idempotency-Key) of a create whose resource has changed since, since it would no longer name the current version.`;
    }
  }
}

const takesIdempotencyKey = (operation: OperationObject): boolean =>
  (operation.parameters ?? []).some(
    (parameter) => !isReference(parameter) && parameter.name === 'Idempotency-Key',
  );

function describeParameter(parameter: ParameterObject): void {
  if (parameter.in === 'header' && parameter.name.toLowerCase() === 'if-match') {
    parameter.schema = { type: 'string', pattern: IF_MATCH_PATTERN, example: '"3"' };
  }
}

/**
 * A request body none of whose properties is required is a partial update: an empty object is
 * refused (400), so at least one property is.
 */
function requireSomePropertyOfPartialBodies(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const body = item[method]?.requestBody;
      if (!body || isReference(body)) continue;
      for (const media of Object.values(body.content)) {
        const ref = media.schema && isReference(media.schema) ? media.schema.$ref : undefined;
        const schema = ref ? schemas[ref.replace('#/components/schemas/', '')] : media.schema;
        if (
          schema &&
          !isReference(schema) &&
          schema.type === 'object' &&
          !schema.required?.length
        ) {
          schema.minProperties = 1;
        }
      }
    }
  }
}

/** Every tag an operation uses, declared at the top as the linters expect (those declared
 * with a description in `openapi.ts` keep it). */
function tagsOf(document: OpenAPIObject): TagObject[] {
  const tags = new Map((document.tags ?? []).map((tag) => [tag.name, tag]));
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      for (const name of item[method]?.tags ?? []) if (!tags.has(name)) tags.set(name, { name });
    }
  }
  return [...tags.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const isReference = (value: object): value is ReferenceObject => '$ref' in value;
