import { Controller, Get, Module } from '@nestjs/common';
import request from 'supertest';
import { CurrentUser } from '../src/auth/current-user.decorator';
import { Public } from '../src/auth/public.decorator';
import { expectProblem } from './support/problem';
import { takeOpenApiViolations } from './support/openapi-validation';
import { startTestApp, TestApp } from './support/test-app';
import { bearer, signToken } from './support/tokens';

// specification §8: routes are behind the bearer guard by default; a route opts out explicitly.
// The controllers below are what a newly generated module looks like: no guard of their own.
@Controller('widgets')
class WidgetsController {
  @Get()
  findAll(): string[] {
    return ['widget'];
  }

  @Public()
  @Get('catalogue')
  catalogue(): string[] {
    return ['open to all'];
  }
}

@Controller('api/:userId/widgets')
class OwnedWidgetsController {
  @Get()
  findAll(@CurrentUser() userId: string): string[] {
    return [userId];
  }
}

@Module({ controllers: [WidgetsController, OwnedWidgetsController] })
class WidgetsModule {}

describe('secure by default', () => {
  let testApp: TestApp;
  const server = () => testApp.app.getHttpServer();

  beforeAll(async () => {
    testApp = await startTestApp({}, { imports: [WidgetsModule] });
  });
  afterAll(() => testApp.close());
  // The widgets controllers exist only in this test, so the served document cannot describe them.
  afterEach(() => takeOpenApiViolations());

  it('a route with neither @Public() nor :userId answers 401 without a token, 200 with one', async () => {
    const missing = await request(server()).get('/widgets');
    expectProblem(missing, 401, 'MISSING_TOKEN');
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="tasks"');
    expectProblem(
      await request(server()).get('/widgets').set('Authorization', 'Bearer not.a.token'),
      401,
      'INVALID_TOKEN',
    );
    const allowed = await request(server())
      .get('/widgets')
      .set(bearer(await signToken('anyone')))
      .expect(200);
    expect(allowed.body).toEqual(['widget']);
  });

  it('a @Public() route answers without a token', async () => {
    await request(server()).get('/widgets/catalogue').expect(200, ['open to all']);
  });

  it('a route with :userId binds it to the token subject', async () => {
    const alice = bearer(await signToken('alice'));
    await request(server()).get('/api/alice/widgets').set(alice).expect(200, ['alice']);
    expectProblem(await request(server()).get('/api/bob/widgets').set(alice), 403, 'FORBIDDEN');
    expectProblem(await request(server()).get('/api/alice/widgets'), 401, 'MISSING_TOKEN');
  });

  it('probes, metrics and the API description stay open; an unknown route is a 404', async () => {
    for (const path of ['/health', '/health/live', '/health/ready', '/metrics', '/docs']) {
      expect({ path, status: (await request(server()).get(path)).status }).toEqual({
        path,
        status: 200,
      });
    }
    await request(server()).get('/docs/openapi.json').expect(200);
    expectProblem(await request(server()).get('/nowhere'), 404, 'NOT_FOUND');
  });
});
