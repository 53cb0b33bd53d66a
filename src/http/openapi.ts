import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { withRateLimitResponses } from './rate-limit.headers';

export const DOCS_PATH = 'docs';
export const OPENAPI_JSON_PATH = 'docs/openapi.json';

/**
 * Serves Swagger UI at `/docs` and the OpenAPI 3 document at `/docs/openapi.json`, generated from
 * the controllers' decorators. The document is built on the first request, not at start-up.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Tasks service')
    .setDescription(
      'Multi-user tasks (todo) API. Task routes need a bearer JWT whose `sub` is the `:userId` ' +
        'of the path. Errors are RFC 9457 problem details (`application/problem+json`).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  SwaggerModule.setup(
    DOCS_PATH,
    app,
    () => withRateLimitResponses(withDocsRoutes(SwaggerModule.createDocument(app, config))),
    {
      jsonDocumentUrl: OPENAPI_JSON_PATH,
      raw: ['json'],
    },
  );
}

/** The two routes SwaggerModule serves itself are not controllers: describe them by hand. */
function withDocsRoutes(document: OpenAPIObject): OpenAPIObject {
  document.paths[`/${DOCS_PATH}`] = {
    get: {
      tags: ['operations'],
      summary: 'Swagger UI for this API',
      responses: { '200': { description: 'HTML page', content: { 'text/html': {} } } },
    },
  };
  document.paths[`/${OPENAPI_JSON_PATH}`] = {
    get: {
      tags: ['operations'],
      summary: 'This OpenAPI document',
      responses: {
        '200': { description: 'OpenAPI 3 document', content: { 'application/json': {} } },
      },
    },
  };
  return document;
}
