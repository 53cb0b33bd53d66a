import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { ShutdownService } from './health/shutdown.service';
import { registerBodyParsers } from './http/body-parsers';
import { corsOptions } from './http/cors';
import { QuietStartupLogger } from './http/logging.module';
import { setupOpenApi } from './http/openapi';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { assignRequestId, REQUEST_ID_HEADER } from './http/request-id';
import { logRequests } from './http/request-log';
import { RequestValidationPipe } from './http/validation';
import { MetricsService } from './metrics/metrics.service';

/** specification §4: bodies over 64 KiB are refused with 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Label and log value of a request that matched no route, so metric labels stay bounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Builds the application exactly as production runs it (adapter, logger, global pipeline), so
 * that tests exercise the same wiring as `main.ts`. Rejects with `InvalidEnvironmentError` when
 * the configuration is bad, and with `DatabaseUnavailableError` when the database stays down.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: assignRequestId,
    // Requests are logged once, by our own hook (http/request-log.ts).
    logger: false,
    // Once the grace period is over the listener closes; what is already on an accepted
    // connection is still served (the pool closes only after the listener), rather than
    // answered with a bare 503 that no client could tell from a failure.
    return503OnClosing: false,
    // Keep-alive connections that are idle when the listener closes are ended; those serving a
    // request end when their response has gone.
    forceCloseConnections: 'idle',
    // `:userId` is the token's subject, up to 255 characters, percent-encoded in the path.
    routerOptions: { maxParamLength: 1024 },
    // Errors raised while routing (a malformed URL, an over-long parameter) skip every hook and
    // Nest's exception layer: answer them as problem details too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      problemDetails.respond(error, request.raw, reply);
    },
  });
  const problemDetails = new ProblemDetailsFilter(adapter);
  const fastify = adapter.getInstance();
  registerBodyParsers(fastify);
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });

  const app = await NestFactory.create<NestFastifyApplication>(await AppModule.forRoot(), adapter, {
    // Until nestjs-pino takes over (and if start-up fails before it does), logs are JSON lines too.
    logger: new ConsoleLogger({ json: true, colors: false }),
    bufferLogs: true,
    abortOnError: false,
    // Body parsing is ours: JSON only (see http/body-parsers.ts).
    bodyParser: false,
  });
  app.useLogger(app.get(QuietStartupLogger));
  logRequests(fastify, PinoLogger.root, UNMATCHED_ROUTE);
  app.useGlobalPipes(new RequestValidationPipe());
  app.useGlobalFilters(problemDetails);

  // During the shutdown grace period, every response asks its client to reconnect (through the
  // load balancer, which by then sends it to another instance), so that no idle keep-alive
  // connection is left to be reset under a client's next request when the listener closes.
  const shutdown = app.get(ShutdownService);
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (shutdown.isShuttingDown) reply.header('Connection', 'close');
    done();
  });

  const metrics = app.get(MetricsService);
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  const { corsOrigins } = app.get(AppConfig).http;
  if (corsOrigins.length > 0) app.enableCors(corsOptions(corsOrigins));
  setupOpenApi(app);
  return app;
}
