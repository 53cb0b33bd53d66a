/**
 * Writes the OpenAPI document the service serves at /docs/openapi.json to a file (default
 * `openapi.json`), for the linters of `.ci/run`: `npm run -s openapi -- <file>`. The app is
 * built in Nest's preview mode, which reads the controllers' metadata without starting any
 * provider, so no database is needed.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { writeFileSync } from 'node:fs';
import { AppModule } from '../src/app.module';
import { buildOpenApiDocument } from '../src/http/openapi';

async function main(): Promise<void> {
  const file = process.argv[2] ?? 'openapi.json';
  const app = await NestFactory.create(await AppModule.forRoot(), new FastifyAdapter(), {
    preview: true,
    logger: false,
  });
  writeFileSync(file, `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`);
  await app.close();
}

void main();
