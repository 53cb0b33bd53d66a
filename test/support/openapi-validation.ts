import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import addFormats from 'ajv-formats';
import OpenAPIBackend, { type Operation, SetMatchType } from 'openapi-backend';
import { buildOpenApiDocument } from '../../src/http/openapi';

/** Swagger UI's own files, served by SwaggerModule and @fastify/static, are not API routes. */
const UI_ASSET = /^\/docs\/(?!openapi\.json$)/;

type Document = ReturnType<typeof buildOpenApiDocument>;
type Responses = Record<string, { content?: Record<string, unknown>; headers?: object }>;

const violations: string[] = [];
let validator: Promise<Validator> | undefined;

/**
 * The violations found since the last call, emptied. `test-app.ts` fails every test that
 * received a response the document does not describe.
 */
export function takeOpenApiViolations(): string[] {
  return violations.splice(0);
}

/**
 * Checks every response the app sends against the OpenAPI document it serves, with a
 * maintained validator (openapi-backend: routing to the operation, Ajv for bodies and
 * headers): the status must be documented for the operation, the body must match its schema
 * under its media type, and every header the document marks required must be there. A request
 * no route matched must be the documented 404 or 405. Must be called before `app.init()`.
 */
export function validateResponsesAgainstOpenApi(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', async (request, reply, payload) => {
      // Every app of a test file is built from the same code: one document, one validator.
      validator ??= Validator.create(buildOpenApiDocument(app));
      const found = (await validator).check(request, reply, payload);
      for (const problem of found) {
        violations.push(`${request.method} ${request.url} → ${reply.statusCode}: ${problem}`);
      }
      return payload;
    });
}

class Validator {
  /** By `METHOD path`, listed once: openapi-backend rebuilds the list on every call. */
  private readonly operations: Map<string, Operation>;

  private constructor(
    private readonly document: Document,
    private readonly api: OpenAPIBackend,
  ) {
    this.operations = new Map(
      api.router
        .getOperations()
        .map((operation) => [`${operation.method} ${operation.path}`, operation]),
    );
  }

  static async create(document: Document): Promise<Validator> {
    const api = new OpenAPIBackend({
      definition: bodiesReadableByOpenApiBackend(document) as never,
      validate: true,
      // Validators are compiled on first use, for the operations a test file reaches.
      quick: true,
      strict: false,
      customizeAjv: (ajv) => addFormats(ajv),
    });
    await api.init();
    return new Validator(document, api);
  }

  check(request: FastifyRequest, reply: FastifyReply, payload: unknown): string[] {
    const problems = this.problemsOf(request, reply, payload);
    const route = request.routeOptions.url ?? '';
    const path = route.replace(/:(\w+)/g, '{$1}');
    const method = request.method === 'HEAD' ? 'get' : request.method.toLowerCase();
    const operation = (
      this.document.paths[path] as Record<string, { tags?: string[] }> | undefined
    )?.[method];
    // Every route of ours carries a described tag; Swagger tags any other by its class name.
    const described = (this.document.tags ?? []).filter((tag) => tag.description);
    const tagged = operation?.tags?.some((tag) => described.some(({ name }) => name === tag));
    if (problems.length > 0 && operation && !tagged) problems.push(UNDESCRIBED_ROUTE);
    return problems;
  }

  private problemsOf(request: FastifyRequest, reply: FastifyReply, payload: unknown): string[] {
    const route = request.routeOptions.url;
    const status = String(reply.statusCode);
    if (route === undefined || route === '*') return this.checkUnrouted(request, reply, payload);
    if (UI_ASSET.test(route)) return [];
    const path = route.replace(/:(\w+)/g, '{$1}');
    const method = request.method === 'HEAD' ? 'get' : request.method.toLowerCase();
    const operation = this.api.router
      .getOperations()
      .find((candidate: Operation) => candidate.path === path && candidate.method === method);
    if (!operation) return [`the document has no operation ${method.toUpperCase()} ${path}`];
    const responses = operation.responses as Responses;
    const documented = responses[status] ?? responses.default;
    if (!documented) return [`status ${status} is not documented for ${operation.operationId}`];

    // The document as served, not openapi-backend's copy (which lists problems under JSON too).
    const served = (this.document.paths[path] as Record<string, { responses: Responses }>)[method]
      .responses;
    const servedResponse = served[status] ?? served.default;
    // openapi-backend checks the values of the headers present; which are required is ours to
    // check (it takes every documented header as required, or none).
    const problems = missingRequiredHeaders(servedResponse.headers, reply);
    const headers = this.api.validator.validateResponseHeaders(reply.getHeaders(), operation, {
      statusCode: reply.statusCode,
      setMatchType: SetMatchType.Any,
    });
    for (const error of headers.errors ?? []) problems.push(`headers: ${describe(error)}`);

    const body = jsonBody(reply, payload, request.method);
    if (body === NO_BODY) return problems;
    const mediaType = mediaTypeOf(reply);
    const documentedTypes = Object.keys(servedResponse.content ?? {}).map(withoutParameters);
    if (!documentedTypes.includes(mediaType)) {
      return [...problems, `media type ${mediaType} is not documented`];
    }
    if (body !== NOT_JSON) {
      const result = this.api.validator.validateResponse(body, operation, reply.statusCode);
      for (const error of result.errors ?? []) problems.push(`body: ${describe(error)}`);
    }
    return problems;
  }

  /** What the router answers itself: the shared 404 and 405, OPTIONS, the CORS preflight. */
  private checkUnrouted(request: FastifyRequest, reply: FastifyReply, payload: unknown): string[] {
    const status = reply.statusCode;
    if (request.method === 'OPTIONS' && (status === 204 || status === 404)) return [];
    const name = status === 404 ? 'NotFound' : status === 405 ? 'MethodNotAllowed' : undefined;
    const shared = name && this.document.components?.responses?.[name];
    if (!shared || '$ref' in shared) return [`status ${status} for an unrouted request`];
    const missing = missingRequiredHeaders(shared.headers, reply);
    const body = jsonBody(reply, payload, request.method);
    const code = typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : '';
    const expected = status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED';
    return code === expected ? missing : [...missing, `code ${String(code)} is not ${expected}`];
  }
}

/** What to do about a controller that no decorator describes, such as `nest g resource` makes. */
const UNDESCRIBED_ROUTE =
  'the route has no OpenAPI description at all. A plain Nest resource (`nest g resource`) is ' +
  'authenticated by the global guard but not owner-scoped (no /api/:userId, no owner in its ' +
  'SQL) and documents none of its answers: make an owned resource with ' +
  '`npm run new:resource -- <plural-name>` instead (docs/extending.md), or describe every ' +
  'answer of this route with @nestjs/swagger decorators';

function missingRequiredHeaders(headers: object | undefined, reply: FastifyReply): string[] {
  return Object.entries(headers ?? {})
    .filter(([, header]) => (header as { required?: boolean }).required === true)
    .filter(([name]) => reply.getHeader(name) === undefined)
    .map(([name]) => `required header ${name} is missing`);
}

const NO_BODY = Symbol('no body');
const NOT_JSON = Symbol('not JSON');

function jsonBody(reply: FastifyReply, payload: unknown, method: string): unknown {
  if (method === 'HEAD' || payload === null || payload === undefined || payload === '') {
    return NO_BODY;
  }
  if (!/^application\/(.+\+)?json\b/.test(mediaTypeOf(reply))) return NOT_JSON;
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return NOT_JSON;
  try {
    return JSON.parse(payload.toString());
  } catch {
    return payload.toString();
  }
}

const withoutParameters = (mediaType: string): string => mediaType.split(';', 1)[0].trim();

const mediaTypeOf = (reply: FastifyReply): string =>
  withoutParameters(String(reply.getHeader('content-type') ?? ''));

const describe = (error: { instancePath?: string; message?: string; params?: unknown }): string =>
  `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params ?? {})}`;

/**
 * openapi-backend validates `application/json` bodies only: a copy of the document in which each
 * problem-details response is also listed under that media type lets it check those too.
 */
function bodiesReadableByOpenApiBackend(document: Document): Document {
  const copy = JSON.parse(JSON.stringify(document)) as Document;
  for (const item of Object.values(copy.paths)) {
    for (const operation of Object.values(item)) {
      const responses = (operation as { responses?: Responses }).responses ?? {};
      for (const response of Object.values(responses)) {
        const content = response.content;
        if (content?.['application/problem+json'] && !content['application/json']) {
          content['application/json'] = content['application/problem+json'];
        }
      }
    }
  }
  return copy;
}
