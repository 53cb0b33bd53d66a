import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';

/**
 * Whether the client already holds the representation `reply` is about to send: its
 * `If-None-Match` names the reply's `ETag` (weak comparison, lists and `*`, RFC 9110 §13.1.2).
 * Only a successful GET or HEAD that carries an ETag qualifies.
 */
export function clientHasCurrentRepresentation(
  request: FastifyRequest,
  reply: FastifyReply,
): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (reply.statusCode !== 200 || request.headers['if-none-match'] === undefined) return false;
  const etag = reply.getHeader('etag');
  if (typeof etag !== 'string') return false;
  // The request's own Cache-Control is left out: `no-cache` there is addressed to caches on
  // the way, while this origin answers the condition it was sent.
  return fresh({ 'if-none-match': request.headers['if-none-match'] }, { etag });
}

/**
 * A GET of a resource whose handler set an `ETag` answers 304 Not Modified, without the body,
 * when `If-None-Match` names that tag (RFC 9110 §15.4.5): a client revalidating its copy
 * (`Cache-Control: no-cache`) pays one round trip and no transfer. Handlers need do nothing
 * but set the ETag; the headers a 200 would carry (ETag, Cache-Control, Vary) stay.
 */
export function registerConditionalGet(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!clientHasCurrentRepresentation(request, reply)) {
      done(null, payload);
      return;
    }
    reply.code(304);
    reply.removeHeader('content-type');
    reply.removeHeader('content-length');
    done(null, '');
  });
}
