import request from 'supertest';
import packageJson from '../package.json';
import { errorCodes } from '../src/http/error-codes';
import { TEXT_PATTERNS } from '../src/http/openapi-edge';
import { RESOURCE_MODULES } from '../src/resources';
import { startTestApp, TestApp } from './support/test-app';

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: object }[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: object }>;
  security?: object[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }>;
    securitySchemes: object;
  };
}

// Swagger UI's page and assets are served by SwaggerModule and @fastify/static, not described.
const UI_ASSETS = [
  '/docs/',
  '/docs/*',
  '/docs/index.html',
  '/docs/LICENSE',
  '/docs/swagger-ui-init.js',
  '/docs/docs/swagger-ui-init.js',
];

/** The routes Fastify serves, read from its route tree: `METHOD /path` with `:param` segments. */
function servedRoutes(tree: string): string[] {
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    prefixes.length = depth;
    const path = (prefixes[depth - 1] ?? '') + match[2];
    prefixes[depth] = path;
    for (const method of match[3].split(', ')) routes.push(`${method} ${path}`);
  }
  return routes;
}

// specification §3: /docs and /docs/openapi.json describe every route, generated from the code.
describe('OpenAPI', () => {
  let testApp: TestApp;
  let document: Document;
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    testApp = await startTestApp({ CORS_ORIGINS: 'https://app.example' });
    const response = await request(server()).get('/docs/openapi.json').expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    document = response.body;
  });
  afterAll(() => testApp.close());

  it('describes exactly the routes the app serves', () => {
    const served = servedRoutes(
      testApp.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false }),
    )
      // HEAD mirrors GET; OPTIONS * is the CORS preflight.
      .filter((route) => !route.startsWith('HEAD ') && route !== 'OPTIONS *')
      .filter((route) => !UI_ASSETS.includes(route.split(' ')[1]))
      .sort();
    const documented = Object.entries(document.paths)
      .flatMap(([path, item]) =>
        Object.keys(item).map(
          (method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
        ),
      )
      .sort();
    expect(documented).toEqual(served);
    // Every registered resource serves the routes every owned resource has.
    const owned = RESOURCE_MODULES.flatMap(({ resource: { table } }) => [
      `GET /api/:userId/${table}`,
      `POST /api/:userId/${table}`,
      `GET /api/:userId/${table}/changes`,
      `GET /api/:userId/${table}/:id`,
      `PUT /api/:userId/${table}/:id`,
      `DELETE /api/:userId/${table}/:id`,
    ]);
    expect(served).toEqual(
      expect.arrayContaining([
        ...owned,
        'GET /health',
        'GET /health/live',
        'GET /health/ready',
        'GET /metrics',
        'GET /docs',
        'GET /docs/openapi.json',
      ]),
    );
  });

  it('describes the rate limit on every /api operation: its headers, and 429 with Retry-After', () => {
    const operations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([, item]) => Object.values(item));
    expect(operations.length).toBeGreaterThan(0);
    for (const operation of operations) {
      expect(operation.responses['429'].headers).toHaveProperty('Retry-After');
      const successes = Object.keys(operation.responses).filter((status) => /^2/.test(status));
      expect(successes.length).toBeGreaterThan(0);
      for (const status of successes) {
        expect(Object.keys(operation.responses[status].headers ?? {})).toEqual(
          expect.arrayContaining([
            'X-RateLimit-Limit',
            'X-RateLimit-Remaining',
            'X-RateLimit-Reset',
          ]),
        );
      }
    }
    // The operations routes are never limited.
    expect(document.paths['/health/ready'].get.responses['429']).toBeUndefined();
  });

  it('describes the bearer scheme, bodies, query parameters, headers and problem responses', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(document.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
    const apiOperations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([, item]) => Object.values(item));
    expect(apiOperations.length).toBeGreaterThanOrEqual(6 * RESOURCE_MODULES.length);
    for (const operation of apiOperations) {
      // The event stream also opens with a single-use ticket instead (specification §15).
      const ticketAccepted = operation.operationId === 'EventsController_stream';
      expect(operation.security).toEqual(ticketAccepted ? [{ bearer: [] }, {}] : [{ bearer: [] }]);
      for (const status of ['401', '403', '429', '500', '503']) {
        expect(operation.responses[status].content).toEqual({
          'application/problem+json': {
            schema: { $ref: '#/components/schemas/ProblemDetailsDto' },
          },
        });
      }
    }

    const list = document.paths['/api/{userId}/tasks'].get;
    expect(list.parameters?.map((parameter) => `${parameter.in} ${parameter.name}`).sort()).toEqual(
      [
        'path userId',
        'query completed',
        'query cursor',
        'query due_from',
        'query due_to',
        'query has_due',
        'query limit',
        'query list_id',
        'query priority',
        'query q',
        'query sort',
        'query tag',
        'query trashed',
      ],
    );
    expect(list.responses['200'].headers).toHaveProperty('Link');
    const schemaOf = (name: string) => list.parameters?.find((p) => p.name === name)?.schema;
    expect(schemaOf('limit')).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 1000,
    });
    expect(schemaOf('userId')).toMatchObject({ type: 'string' });

    const create = document.paths['/api/{userId}/tasks'].post;
    expect(create.requestBody?.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateTaskDto',
    );
    expect(Object.keys(create.responses).sort()).toEqual([
      '201',
      '400',
      '401',
      '403',
      '405',
      '408',
      '409',
      '413',
      '414',
      '415',
      '422',
      '429',
      '431',
      '500',
      '503',
    ]);
    expect(create.responses['201'].headers).toHaveProperty('Location');
    expect(create.parameters?.find((p) => p.name === 'Idempotency-Key')).toMatchObject({
      in: 'header',
      required: false,
      schema: { type: 'string', maxLength: 255 },
    });

    // specification §10: the feed, with its own path (not taken for an :id) and 410.
    const changes = document.paths['/api/{userId}/tasks/changes'].get;
    expect(changes.parameters?.map((parameter) => parameter.name).sort()).toEqual([
      'limit',
      'since',
      'userId',
    ]);
    expect(Object.keys(changes.responses)).toEqual(expect.arrayContaining(['200', '400', '410']));
    expect(document.paths['/api/{userId}/lists/changes'].get.responses).toHaveProperty('410');

    const update = document.paths['/api/{userId}/tasks/{id}'].put;
    expect(update.parameters?.map((parameter) => parameter.name)).toContain('If-Match');
    expect(Object.keys(update.responses)).toEqual(expect.arrayContaining(['200', '404', '412']));
    expect(update.responses['200'].headers).toHaveProperty('ETag');

    const schemas = document.components.schemas;
    expect(Object.keys(schemas.TaskResponse.properties ?? {}).sort()).toEqual([
      'completed',
      'created_at',
      'deleted_at',
      'description',
      'due_at',
      'due_date',
      'due_time',
      'id',
      'list_id',
      'next_id',
      'priority',
      'recurrence',
      'remind_at',
      'tags',
      'time_zone',
      'title',
      'updated_at',
      'user_id',
    ]);
    // The text rules of the validators, as patterns: not blank, no NUL.
    const property = (schema: string, name: string) =>
      (schemas[schema].properties as Record<string, { pattern?: string }>)[name];
    expect(property('CreateTaskDto', 'title').pattern).toBe(TEXT_PATTERNS.notBlankNoNul);
    expect(property('UpdateTaskDto', 'description').pattern).toBe(TEXT_PATTERNS.noNul);
    expect(property('CreateListDto', 'name').pattern).toBe(TEXT_PATTERNS.notBlankNoNul);
    expect(Object.keys(schemas.UpdateTaskDto.properties ?? {}).sort()).toEqual([
      'completed',
      'description',
      'due_date',
      'due_time',
      'list_id',
      'priority',
      'recurrence',
      'remind_at',
      'tags',
      'time_zone',
      'title',
    ]);
    expect(Object.keys(schemas.ListResponse.properties ?? {}).sort()).toEqual([
      'created_at',
      'id',
      'name',
      'updated_at',
      'user_id',
    ]);
    const getList = document.paths['/api/{userId}/lists/{id}'].get;
    expect(Object.keys(getList.responses)).toEqual(expect.arrayContaining(['200', '404']));
    expect(JSON.stringify(getList.responses['404'])).toContain('LIST_NOT_FOUND');
    // The catalogue, with the not-found code of each registered resource.
    expect(schemas.ProblemDetailsDto.properties?.code.enum?.sort()).toEqual(errorCodes().sort());
    for (const { resource } of RESOURCE_MODULES) {
      expect(errorCodes()).toContain(resource.notFoundCode);
    }
  });

  it('serves Swagger UI with its assets', async () => {
    const page = await request(server()).get('/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('swagger-ui');
    const css = await request(server()).get('/docs/swagger-ui.css').expect(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    await request(server()).get('/docs/swagger-ui-init.js').expect(200);
  });

  it("carries the package's version, a summary for every route, declared lower-case tags and how to get a token", async () => {
    const raw = (await request(server()).get('/docs/openapi.json').expect(200)).body as {
      info: { version: string; description: string };
      tags: { name: string; description?: string }[];
      paths: Record<string, Record<string, { summary?: string; tags?: string[] }>>;
    };
    expect(raw.info.version).toBe((packageJson as { version: string }).version);
    expect(raw.info.description).toContain('npm run -s token -- <userId>');
    const declared = raw.tags.map((tag) => tag.name);
    for (const [path, item] of Object.entries(raw.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        expect({ route: `${method} ${path}`, summary: operation.summary }).toEqual({
          route: `${method} ${path}`,
          summary: expect.stringMatching(/\S/),
        });
        expect(operation.tags).toHaveLength(1);
        expect(declared).toContain(operation.tags?.[0]);
      }
    }
    for (const tag of raw.tags) {
      expect(tag.name).toBe(tag.name.toLowerCase());
      expect(tag.description).toBeTruthy();
    }
    expect(raw.paths['/health/live'].get.tags).toEqual(['health']);
  });
});
