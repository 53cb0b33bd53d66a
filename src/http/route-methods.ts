import type { FastifyInstance } from 'fastify';
import FindMyWay from 'find-my-way';

/**
 * Which methods each path of the app answers, so that a request the router cannot match is told
 * apart: a known path with another method is a 405 with `Allow` (RFC 9110 §15.5.6), an unknown
 * path a 404. Routes are copied as Fastify registers them into a second instance of Fastify's own
 * router (find-my-way), so a path matches here exactly as it would there.
 */
export class RouteMethods {
  // Every path is filed under one method; its store holds the methods the app serves there.
  private readonly paths: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;

  constructor(routerOptions: { maxParamLength?: number; ignoreTrailingSlash?: boolean } = {}) {
    this.paths = FindMyWay(routerOptions);
  }

  /** Records every route `fastify` registers from now on. */
  watch(fastify: FastifyInstance): void {
    fastify.addHook('onRoute', (route) => {
      // `*` is the CORS preflight handler, which serves OPTIONS on every path.
      if (route.url === '*') return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      this.add(route.url, methods);
    });
  }

  add(path: string, methods: readonly string[]): void {
    const known = this.paths.findRoute('GET', path);
    const served: Set<string> = known ? (known.store as Set<string>) : new Set();
    for (const method of methods) served.add(method.toUpperCase());
    if (!known) this.paths.on('GET', path, () => undefined, served);
  }

  /** The methods served at `url` (its query aside), sorted; empty when no route has the path. */
  allowedAt(url: string): string[] {
    const queryStart = url.indexOf('?');
    const found = this.paths.find('GET', queryStart === -1 ? url : url.slice(0, queryStart));
    return found ? [...(found.store as Set<string>)].sort() : [];
  }
}
