import { Controller, Get, HttpCode, Module, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiOkResponse, ApiProperty } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import request from 'supertest';
import { DescribedTag } from '../../src/http/openapi-tags';
import {
  takeOpenApiViolations,
  validateResponsesAgainstOpenApi,
} from '../support/openapi-validation';

class Thing {
  @ApiProperty()
  name!: string;
}

const etag = { ETag: { description: 'version', required: true, schema: { type: 'string' } } };

// Described as every route of the service is (openapi.spec.ts checks): a tag with a description.
@DescribedTag('things', 'Routes of this test')
@Controller('things')
class ThingsController {
  @Get('right')
  @ApiOkResponse({ type: Thing, headers: etag })
  right(@Res({ passthrough: true }) reply: FastifyReply): Thing {
    reply.header('ETag', '"1"');
    return { name: 'right' };
  }

  @Get('extra-field')
  @ApiOkResponse({ type: Thing })
  extraField(): object {
    return { name: 'x', secret: 'leaked' };
  }

  @Get('wrong-type')
  @ApiOkResponse({ type: Thing })
  wrongType(): object {
    return { name: 42 };
  }

  @Get('no-etag')
  @ApiOkResponse({ type: Thing, headers: etag })
  noEtag(): Thing {
    return { name: 'x' };
  }

  @Get('teapot')
  @HttpCode(418)
  @ApiOkResponse({ type: Thing })
  teapot(): Thing {
    return { name: 'x' };
  }
}

/** What `nest g resource notes` writes: no OpenAPI decorator, a text answer. */
@Controller('notes')
class NotesController {
  @Get()
  findAll(): string {
    return 'This action returns all notes';
  }
}

@Module({ controllers: [ThingsController, NotesController] })
class ThingsModule {}

// The check every API test gets from test-app.ts: it must catch what the document does not say.
describe('response validation against the OpenAPI document', () => {
  let app: NestFastifyApplication;
  const get = (path: string) => request(app.getHttpServer()).get(`/things/${path}`);

  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(ThingsModule, new FastifyAdapter(), {
      logger: false,
    });
    // As the real app does: every response carries a request id (documented as required).
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', (req, reply, done) => {
        reply.header('X-Request-Id', req.id);
        done();
      });
    validateResponsesAgainstOpenApi(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  it('passes a documented response', async () => {
    await get('right').expect(200);
    expect(takeOpenApiViolations()).toEqual([]);
  });

  it.each([
    ['extra-field', /must NOT have additional properties.*secret/],
    ['wrong-type', /\/name must be string/],
    ['no-etag', /required header ETag is missing/],
    ['teapot', /status 418 is not documented/],
  ])('reports %s', async (path, violation) => {
    await get(path);
    const violations = takeOpenApiViolations();
    expect(violations).toEqual([expect.stringMatching(violation)]);
  });

  it('says what to do about a route no decorator describes (as `nest g resource` writes)', async () => {
    await request(app.getHttpServer()).get('/notes').expect(200);
    const violations = takeOpenApiViolations();
    expect(violations).toEqual([
      expect.stringMatching(/^GET \/notes → 200: media type text\/plain is not documented$/),
      expect.stringMatching(/not owner-scoped.*npm run new:resource -- <plural-name>/),
    ]);
  });
});
