import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** What a cache may do with an `/api` response: keep it for this user only, and revalidate it
 * (with its ETag) before each use, since another client may have changed the task. */
export const API_CACHE_CONTROL = 'private, no-cache';

/**
 * Security headers on every response, the Swagger page included (X-Content-Type-Options,
 * Content-Security-Policy, Strict-Transport-Security, Referrer-Policy, …), from helmet's
 * defaults: its CSP allows what Swagger UI loads (its own scripts and styles, inline styles,
 * data: images; checked in a headless browser). And the cache rule of `/api` responses, errors included.
 */
export async function registerSecurityHeaders(app: NestFastifyApplication): Promise<void> {
  await app.register(helmet, {
    // Not `upgrade-insecure-requests`: Swagger UI must still load where the service is reached
    // over plain HTTP (a development machine, a private network behind no TLS proxy).
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      if (request.url.startsWith('/api/')) reply.header('Cache-Control', API_CACHE_CONTROL);
      done();
    });
}
