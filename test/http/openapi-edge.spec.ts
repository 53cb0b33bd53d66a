import request from 'supertest';
import { TEXT_PATTERNS } from '../../src/http/openapi-edge';
import { startTestApp, TestApp } from '../support/test-app';

interface Header {
  required?: boolean;
  schema?: { pattern?: string };
}
interface Response {
  headers?: Record<string, Header>;
}
interface Operation {
  parameters?: { name: string; in: string; schema?: { pattern?: string } }[];
  requestBody?: unknown;
  responses: Record<string, Response>;
  security?: object[];
}
interface Document {
  servers?: { url: string }[];
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<
      string,
      { type?: string; additionalProperties?: boolean; minProperties?: number }
    >;
    responses: Record<string, Response>;
  };
}

// specification §12: the document describes what the edge of the service really answers.
describe('OpenAPI document at the edge', () => {
  let testApp: TestApp;
  let document: Document;
  const operations = (filter: (path: string, method: string) => boolean) =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => filter(path, method))
        .map(([method, operation]) => ({ name: `${method} ${path}`, operation })),
    );

  beforeAll(async () => {
    testApp = await startTestApp();
    document = (await request(testApp.app.getHttpServer()).get('/docs/openapi.json').expect(200))
      .body;
  });
  afterAll(() => testApp.close());

  it('names a server and declares every tag it uses', () => {
    expect(document.servers?.length).toBeGreaterThan(0);
    const used = new Set(
      operations(() => true).flatMap(
        ({ operation }) => (operation as { tags?: string[] }).tags ?? [],
      ),
    );
    expect(document.tags?.map((tag) => tag.name).sort()).toEqual([...used].sort());
  });

  it('documents 429 and 414 on every /api route, 413 and 415 wherever a body can be sent', () => {
    for (const { name, operation } of operations((path) => path.startsWith('/api/'))) {
      expect({ name, has: Object.keys(operation.responses) }).toEqual({
        name,
        has: expect.arrayContaining(['414', '429', '431']),
      });
      expect(operation.responses['429'].headers?.['Retry-After']?.required).toBe(true);
    }
    for (const { name, operation } of operations((_path, method) => method !== 'get')) {
      expect({ name, has: Object.keys(operation.responses) }).toEqual({
        name,
        has: expect.arrayContaining(['413', '415']),
      });
    }
  });

  it('documents 304 and If-None-Match on the GET of a resource with an ETag', () => {
    const getOne = document.paths['/api/{userId}/tasks/{id}'].get;
    expect(getOne.responses['304'].headers?.ETag?.required).toBe(true);
    expect(getOne.parameters?.map((parameter) => parameter.name)).toContain('If-None-Match');
    expect(document.paths['/api/{userId}/tasks'].get.responses['304']).toBeUndefined();
  });

  it('documents the 404 and 405 of the router, with Allow required', () => {
    expect(document.components.responses.MethodNotAllowed.headers?.Allow?.required).toBe(true);
    expect(document.components.responses.NotFound).toBeDefined();
  });

  it('marks the headers always sent as required, X-Request-Id on every response', () => {
    for (const { name, operation } of operations(() => true)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        expect({
          at: `${name} ${status}`,
          requestId: response.headers?.['X-Request-Id']?.required,
        }).toEqual({
          at: `${name} ${status}`,
          requestId: true,
        });
        // A create that takes Idempotency-Key: its replay has no ETag once the resource changed.
        const replayable = operation.parameters?.some((p) => p.name === 'Idempotency-Key');
        for (const header of ['ETag', 'Location', 'WWW-Authenticate', 'Retry-After']) {
          if (response.headers?.[header]) {
            expect({
              at: `${name} ${status} ${header}`,
              required: response.headers[header].required,
            }).toEqual({
              at: `${name} ${status} ${header}`,
              required: !(replayable && header === 'ETag' && status === '201'),
            });
          }
        }
        if (name.includes(' /api/'))
          expect(response.headers?.['Cache-Control']?.required).toBe(true);
      }
    }
    const create = document.paths['/api/{userId}/tasks'].post;
    expect(create.responses['201'].headers?.Location?.required).toBe(true);
    expect(
      document.paths['/api/{userId}/tasks'].get.responses['200'].headers?.Link?.required,
    ).toBeFalsy();
  });

  it('closes every object schema, requires a property of partial bodies, and gives If-Match its format', () => {
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      if (schema.type === 'object')
        expect({ name, closed: schema.additionalProperties }).toEqual({ name, closed: false });
    }
    expect(document.components.schemas.UpdateTaskDto.minProperties).toBe(1);
    expect(document.components.schemas.CreateTaskDto.minProperties).toBeUndefined();
    const ifMatch = document.paths['/api/{userId}/tasks/{id}'].put.parameters?.find(
      (parameter) => parameter.name === 'If-Match',
    );
    const pattern = new RegExp(ifMatch?.schema?.pattern ?? '');
    expect(['*', '"3"', '"2147483647"'].every((value) => pattern.test(value))).toBe(true);
    expect(['W/"3"', '"0"', '3', '"3", "4"', ''].some((value) => pattern.test(value))).toBe(false);
  });

  it('marks public routes public', () => {
    for (const path of [
      '/health',
      '/health/live',
      '/health/ready',
      '/metrics',
      '/docs',
      '/docs/openapi.json',
    ]) {
      expect(document.paths[path].get.security).toEqual([]);
    }
    expect(document.paths['/api/{userId}/tasks'].get.security).toEqual([{ bearer: [] }]);
  });

  it('offers the text rules of the validators as patterns (for the text fields to declare)', () => {
    const noNul = new RegExp(TEXT_PATTERNS.noNul);
    const notBlank = new RegExp(TEXT_PATTERNS.notBlankNoNul);
    expect(['', 'x', ' ', 'é 😀'].every((text) => noNul.test(text))).toBe(true);
    expect(noNul.test('a\u0000b')).toBe(false);
    expect(['x', '  x  ', '\tBuy milk\n'].every((text) => notBlank.test(text))).toBe(true);
    expect(['', '   ', '\t\n', '\u00a0', 'x\u0000'].some((text) => notBlank.test(text))).toBe(
      false,
    );
  });
});
