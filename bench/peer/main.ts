import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { PeerModule } from './peer.module';

/**
 * The benchmark's conventional peer: the service's task routes written the way the NestJS docs
 * teach, with the service's own packages: Fastify, @nestjs/typeorm repositories, a global
 * ValidationPipe over class-validator DTOs, nestjs-pino and a JWT guard. The benchmark reports
 * the service's ratio to it: what choosing the service buys over the usual way.
 *
 * Environment: DATABASE_URL, AUTH_JWT_SECRET, PORT, HOST, DATABASE_POOL_MAX (10).
 */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(PeerModule, new FastifyAdapter(), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
}

void bootstrap();
