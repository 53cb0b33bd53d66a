import { Controller, HttpCode, Module, Patch } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { registerBodyParsers } from '../../src/http/body-parsers';
import { NoBody } from '../../src/http/no-body';
import { ProblemDetailsFilter } from '../../src/http/problem-details.filter';
import { assignRequestId, REQUEST_ID_HEADER } from '../../src/http/request-id';
import { expectProblem, fieldErrors } from '../support/problem';

@Controller('switch')
class SwitchController {
  @Patch()
  @HttpCode(204)
  @NoBody()
  flip(): void {}
}

@Module({ controllers: [SwitchController] })
class SwitchModule {}

// specification §12: a body sent to a route that takes none is a 400, not silently ignored.
describe('@NoBody()', () => {
  let app: NestFastifyApplication;
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    const adapter = new FastifyAdapter({ genReqId: assignRequestId });
    registerBodyParsers(adapter.getInstance());
    adapter.getInstance().addHook('onRequest', (req, reply, done) => {
      reply.header(REQUEST_ID_HEADER, req.id);
      done();
    });
    app = await NestFactory.create<NestFastifyApplication>(SwitchModule, adapter, {
      logger: false,
      bodyParser: false,
    });
    app.useGlobalFilters(new ProblemDetailsFilter(adapter));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());

  it('accepts no body, or an empty one whatever its Content-Type', async () => {
    await request(server()).patch('/switch').expect(204);
    await request(server()).patch('/switch').set('Content-Type', 'application/json').expect(204);
    await request(server()).patch('/switch').set('Content-Type', 'text/plain').expect(204);
  });

  it('refuses a JSON body, even an empty object, with 400 VALIDATION_ERROR', async () => {
    for (const body of [{ completed: true }, {}, [], 'null']) {
      const response = await request(server())
        .patch('/switch')
        .set('Content-Type', 'application/json')
        .send(typeof body === 'string' ? body : JSON.stringify(body));
      expectProblem(response, 400, 'VALIDATION_ERROR');
      expect(fieldErrors(response)).toEqual(['body: this route takes no body: send none']);
    }
  });

  it('leaves a body of another type to the parser: 415', async () => {
    const response = await request(server())
      .patch('/switch')
      .set('Content-Type', 'text/plain')
      .send('on');
    expectProblem(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
