import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a cache may do with an `/api` response: keep it for this user only, and revalidate it
 * (with its ETag) before each use, since another client may have changed the task. */
export const API_CACHE_CONTROL = 'private, no-cache';

/**
 * helmet's defaults, but not `upgrade-insecure-requests`: Swagger UI must still load where the
 * service is reached over plain HTTP (a development machine, a private network behind no TLS
 * proxy). The rest of its CSP allows what Swagger UI loads (its own scripts and styles, inline
 * styles, data: images; checked in a headless browser).
 */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/**
 * The headers helmet sets for these options, computed once. With no per-request directive (no
 * CSP nonce, no function among the directives) helmet's headers are the same on every response,
 * so running its middleware once against a recording response gives exactly what it would set
 * each time, without building its middleware chain and parsing the CSP on every request (which
 * `@fastify/helmet` does, at 4 % of a request's CPU time).
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error) => {
    if (error) throw error;
  });
  return headers;
}

let computed: Record<string, string> | undefined;

/**
 * The headers every response carries for a request to `url`: helmet's, and the cache rule of
 * `/api` responses. Also for the answers given before or outside the app's hooks (a malformed
 * URL, an over-long path segment, a request Node's parser refused), so that no answer lacks them.
 */
export function responseHeaders(url: string): Record<string, string> {
  computed ??= helmetHeaders();
  return url.startsWith('/api/') ? { ...computed, 'cache-control': API_CACHE_CONTROL } : computed;
}

/**
 * Security headers on every response, the Swagger page and errors included
 * (X-Content-Type-Options, Content-Security-Policy, Strict-Transport-Security, Referrer-Policy,
 * …), from helmet; and the cache rule of `/api` responses, errors included.
 */
export function registerSecurityHeaders(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      reply.headers(responseHeaders(request.url));
      done();
    });
}
