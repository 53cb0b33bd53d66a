import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { errorCodes } from './error-codes';
import { describeTheEdge } from './openapi-edge';
import { describedTags } from './openapi-tags';
import { ProblemDetailsDto } from './problem-details.dto';
import { withRateLimitResponses } from './rate-limit.headers';

export const DOCS_PATH = 'docs';
export const OPENAPI_JSON_PATH = 'docs/openapi.json';

/**
 * Serves Swagger UI at `/docs` and the OpenAPI 3 document at `/docs/openapi.json`, generated from
 * the controllers' decorators. The document is built on the first request, not at start-up.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
  });
}

/** The document `/docs/openapi.json` serves; also written by `npm run openapi` for the linters. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tasks service')
    .setDescription(
      'Multi-user tasks (todo) API. Task routes need a bearer JWT whose `sub` is the `:userId` ' +
        'of the path. Errors are RFC 9457 problem details (`application/problem+json`). ' +
        'A path no route has answers 404 (`components.responses.NotFound`); a known path with ' +
        'another method answers 405 with `Allow` (`components.responses.MethodNotAllowed`), and ' +
        'OPTIONS on it 204 with the same `Allow`. Every response carries `X-Request-Id` and ' +
        'security headers; `/api` responses carry `Cache-Control: private, no-cache`.\n\n' +
        'A development token: with the service started by `npm start` (no auth configured, so ' +
        'the fixed development secret), run `npm run -s token -- <userId>` and paste the ' +
        'printed token into **Authorize**; then use the same `<userId>` in the paths. With ' +
        '`AUTH_JWT_SECRET` set, the same command signs with that secret.',
    )
    .setVersion(packageVersion())
    // The resources' tags are declared by their controllers (`DescribedTag`); these are the rest.
    .addTag(
      'events',
      'Live task changes and reminders (Server-Sent Events); a bearer token or a stream ticket',
    )
    .addTag('demo', 'A page showing live events in two browser tabs, without authentication')
    .addTag('agents', 'The Model Context Protocol endpoint for AI agents, and its metadata')
    .addTag('health', 'Liveness and readiness probes, without authentication')
    .addTag('operations', 'Metrics and this documentation, without authentication')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  const document = withDocsRoutes(SwaggerModule.createDocument(app, config));
  const resourceTags = describedTags().filter((tag) => usesTag(document, tag.name));
  document.tags = [...(document.tags ?? []), ...resourceTags];
  return describeTheEdge(withRateLimitResponses(withErrorCatalogue(document)));
}

/** Whether an operation of the document carries the tag (a test app may leave modules out). */
const usesTag = (document: OpenAPIObject, tag: string): boolean =>
  Object.values(document.paths).some((item) =>
    Object.values(item).some((operation: { tags?: string[] }) => operation.tags?.includes(tag)),
  );

/**
 * The codes of `ProblemDetails` are the whole catalogue, which includes the not-found code of
 * each owned resource declared: known only once every module is loaded, so set here.
 */
function withErrorCatalogue(document: OpenAPIObject): OpenAPIObject {
  const problem = document.components?.schemas?.[ProblemDetailsDto.name];
  const code = problem && 'properties' in problem ? problem.properties?.code : undefined;
  if (code && !('$ref' in code)) code.enum = errorCodes();
  return document;
}

/** The service's version: `version` of the package.json above this file (in src/ or dist/src/). */
function packageVersion(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    }
  }
  throw new Error(`no package.json above ${__dirname}`);
}

/** The two routes SwaggerModule serves itself are not controllers: describe them by hand. */
function withDocsRoutes(document: OpenAPIObject): OpenAPIObject {
  document.paths[`/${DOCS_PATH}`] = {
    get: {
      operationId: 'docs_page',
      tags: ['operations'],
      summary: 'Swagger UI for this API',
      description: 'An HTML page that renders this document.',
      responses: { '200': { description: 'HTML page', content: { 'text/html': {} } } },
    },
  };
  document.paths[`/${OPENAPI_JSON_PATH}`] = {
    get: {
      operationId: 'docs_document',
      tags: ['operations'],
      summary: 'This OpenAPI document',
      description: 'Generated from the code at start-up; what Swagger UI renders.',
      responses: {
        '200': { description: 'OpenAPI 3 document', content: { 'application/json': {} } },
      },
    },
  };
  return document;
}
