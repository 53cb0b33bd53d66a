import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { assignRequestId, REQUEST_ID_HEADER } from './http/request-id';

/** CONTRACT §4: bodies over 64 KiB are refused with 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Builds the application exactly as production runs it (adapter, logger, global pipeline), so
 * that tests exercise the same wiring as `main.ts`. Rejects with `InvalidEnvironmentError` when
 * the configuration is bad, and with `DatabaseUnavailableError` when the database stays down.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: assignRequestId,
    // Requests are logged once, by nestjs-pino.
    logger: false,
    return503OnClosing: true,
  });
  adapter.getInstance().addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  const app = await NestFactory.create<NestFastifyApplication>(await AppModule.forRoot(), adapter, {
    // Until nestjs-pino takes over (and if start-up fails before it does), logs are JSON lines too.
    logger: new ConsoleLogger({ json: true, colors: false }),
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  return app;
}
