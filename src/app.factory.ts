import { type DynamicModule, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module';
import { AppConfig } from './config/app-config';
import { InvalidEnvironmentError } from './config/environment';
import { DataLayerError } from './database/data-layer.errors';
import { ShutdownService } from './health/shutdown.service';
import { refuseBodyOfSafeMethod, registerBodyParsers } from './http/body-parsers';
import { answerClientError, HTTP_SERVER_OPTIONS, requireHost } from './http/client-errors';
import { registerConditionalGet } from './http/conditional-get';
import { corsOptions } from './http/cors';
import { QuietStartupLogger, StartupConsoleLogger } from './http/logging.module';
import { setupOpenApi } from './http/openapi';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { assignRequestId, REQUEST_ID_HEADER } from './http/request-id';
import { RouteMethods } from './http/route-methods';
import { registerSecurityHeaders, responseHeaders } from './http/security-headers';
import { logRequests } from './http/request-log';
import { RequestValidationPipe } from './http/validation';
import { MetricsService } from './metrics/metrics.service';
import { pageMemory } from './owned-resources/page-memory';
import { Keyring, useSealingKeys } from './owned-resources/sealed-json';

/** specification §4: bodies over 64 KiB are refused with 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** How long a client may take to send a request's headers, and the whole request. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/** Label and log value of a request that matched no route, so metric labels stay bounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * A start-up failure the operator can fix (the configuration, the database's set-up): `main.ts`
 * reports it as one line that says what to change, and nothing else is printed about it.
 */
export const isStartupMisconfiguration = (
  error: unknown,
): error is InvalidEnvironmentError | DataLayerError =>
  error instanceof InvalidEnvironmentError || error instanceof DataLayerError;

/** Makes the Nest application of the root module: `NestFactory.create`, unless a test compiles
 * it through `@nestjs/testing` to override a provider. */
export type ApplicationBuilder = (
  module: DynamicModule,
  adapter: FastifyAdapter,
  options: NestApplicationOptions,
) => Promise<NestFastifyApplication>;

export interface CreateAppOptions extends AppModuleOptions {
  build?: ApplicationBuilder;
}

/**
 * Builds the application exactly as production runs it (adapter, logger, global pipeline), so
 * that tests exercise the same wiring as `main.ts`. Rejects with `InvalidEnvironmentError` when
 * the configuration is bad, and with `DatabaseUnavailableError` when the database stays down.
 * Tests pass a configuration (and modules of their own) instead of setting `process.env`.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const routerOptions = { maxParamLength: 1024 };
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // What Node's parser refuses (bad framing, oversized headers) never reaches a route.
    clientErrorHandler: answerClientError,
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
    // A client gets 10 s to send its headers and 30 s for its whole request (64 KiB at most), so
    // that slow or stalled senders cannot hold connections for ever; checked every second
    // rather than Node's default 30 s.
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: {
      ...HTTP_SERVER_OPTIONS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    // `:userId` is the token's subject, up to 255 characters, percent-encoded in the path.
    routerOptions,
    // Errors raised while routing (a malformed URL, an over-long parameter) skip every hook and
    // Nest's exception layer: answer them as problem details too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      reply.headers(responseHeaders(request.url));
      reply.header(REQUEST_ID_HEADER, request.id);
      problemDetails.respond(error, request.raw, reply);
    },
  });
  const fastify = adapter.getInstance();
  const routes = new RouteMethods(routerOptions);
  routes.watch(fastify);
  const problemDetails = new ProblemDetailsFilter(adapter, routes);
  registerBodyParsers(fastify);
  registerConditionalGet(fastify);
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });

  const build: ApplicationBuilder =
    options.build ??
    ((module, fastify, appOptions) => NestFactory.create(module, fastify, appOptions));
  const app = await build(AppModule.forRoot(options), adapter, {
    // Until nestjs-pino takes over (and if start-up fails before it does), logs are JSON lines too.
    logger: new StartupConsoleLogger(isStartupMisconfiguration),
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

  registerSecurityHeaders(app);
  // After helmet's hook, so that these refusals carry the security headers too.
  fastify.addHook('onRequest', (request, reply, done) => {
    requireHost(request);
    refuseBodyOfSafeMethod(request, reply);
    done();
  });

  const config = app.get(AppConfig);
  pageMemory.limits = config.pages;
  useSealingKeys(new Keyring(config.sealing.current, config.sealing.previous));
  const { corsOrigins } = config.http;
  if (corsOrigins.length > 0) app.enableCors(corsOptions(corsOrigins));
  setupOpenApi(app);
  return app;
}
