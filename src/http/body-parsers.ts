import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MalformedBodyError, RequestValidationError } from './request-errors';

/**
 * The deepest nesting of arrays and objects a body may have. Every body the API reads is a flat
 * object; the limit only has to stop bodies so deep that validation, which walks them
 * recursively, would overflow the stack (about 1,500 levels fit in 3 KB).
 */
export const MAX_JSON_DEPTH = 32;

const hasNoBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] === undefined &&
  (request.headers['content-length'] === undefined || request.headers['content-length'] === '0');

/**
 * A GET or HEAD has no body in this API (RFC 9110 §9.3.1: a body on a GET has no meaning), so one
 * that announces a body is refused before a byte of it is read, whatever the route and before any
 * token is checked; the connection then closes rather than read the body to find where the next
 * request starts. Without this, Node reads and discards any length of body on a keep-alive
 * connection.
 */
export function refuseBodyOfSafeMethod(request: FastifyRequest, reply: FastifyReply): void {
  if ((request.method === 'GET' || request.method === 'HEAD') && !hasNoBody(request)) {
    reply.header('Connection', 'close');
    throw new BadRequestException(`A ${request.method} request takes no body: send it without one`);
  }
}

// `fatal`: a byte sequence that is not UTF-8 is refused rather than replaced by U+FFFD, which
// would then be stored as if the client had sent it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Whether a parsed JSON value nests arrays and objects deeper than `limit`. Iterative, so that
 * the check cannot overflow the stack it protects, and proportional to the number of values
 * (not bytes): a flat task body costs a handful of steps whatever the length of its strings.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * JSON is the only media type the API reads. A request without body bytes is accepted whatever
 * its Content-Type says, so a bodiless `PATCH …/complete` or `DELETE` works from clients that
 * always send `Content-Type: application/json`; a non-empty body of any other type is a 415.
 * The bytes must be UTF-8 (RFC 8259 §8.1); Fastify's own JSON parser does the parsing (with
 * prototype-poisoning protection); the value must nest at most MAX_JSON_DEPTH levels; the body
 * limit of the instance applies.
 */
const TOO_DEEP = RequestValidationError.of(
  'body',
  `the body must not nest arrays or objects more than ${MAX_JSON_DEPTH} levels deep`,
);

export function registerBodyParsers(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new MalformedBodyError('The request body is not valid UTF-8.'), undefined);
      return;
    }
    // V8's JSON.parse is iterative: any depth parses; the depth is checked before validation,
    // which walks the value recursively, ever sees it.
    parseJson(request, text, (error, value) => {
      if (error) done(error, undefined);
      else if (nestsDeeperThan(value, MAX_JSON_DEPTH)) done(TOO_DEEP, undefined);
      else done(null, value);
    });
  });
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    if (hasNoBody(request)) {
      done(null, undefined);
      return;
    }
    done(new UnsupportedMediaTypeException('The request body must be application/json'), undefined);
  });
}
