import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const hasNoBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] === undefined &&
  (request.headers['content-length'] === undefined || request.headers['content-length'] === '0');

/**
 * JSON is the only media type the API reads. A request without body bytes is accepted whatever
 * its Content-Type says, so a bodiless `PATCH …/complete` or `DELETE` works from clients that
 * always send `Content-Type: application/json`; a non-empty body of any other type is a 415.
 * Fastify's own JSON parser does the parsing (with prototype-poisoning protection) and the body
 * limit of the instance applies.
 */
export function registerBodyParsers(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    if (hasNoBody(request)) {
      done(null, undefined);
      return;
    }
    done(new UnsupportedMediaTypeException('The request body must be application/json'), undefined);
  });
}
