import { BadRequestException } from '@nestjs/common';
import type { ConnectionError, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from './error-codes';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails, quotablePath } from './problem-details.filter';
import { responseHeaders } from './security-headers';

/** Node's own limit on the request line and headers together; more is a 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Options of the Node server. A request without `Host` is not refused by Node (with a bare 400
 * and no body) but reaches the app, which answers it as problem details (`requireHost`).
 */
export const HTTP_SERVER_OPTIONS: ServerOptions = {
  maxHeaderSize: MAX_HEADER_BYTES,
  requireHostHeader: false,
};

interface ClientErrorAnswer {
  status: number;
  code: ErrorCode;
  detail: string;
}

function answerFor(error: ConnectionError): ClientErrorAnswer {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'BAD_REQUEST',
        detail: `The request line and headers are larger than the limit of ${MAX_HEADER_BYTES / 1024} KiB.`,
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'BAD_REQUEST',
        detail: 'The request was not received in time.',
      };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'BAD_REQUEST', detail: 'The request method is not HTTP.' };
    default:
      // Node's parser codes (HPE_*) name what is wrong with the framing but are no words for
      // a client; the request id finds the connection's log line.
      return {
        status: 400,
        code: 'BAD_REQUEST',
        detail:
          'The request is not valid HTTP/1.1 (its request line, a header, Content-Length or the chunked framing).',
      };
  }
}

// What a request line starts with; the path is quoted in the answer only when it is plain.
const REQUEST_LINE_PATH = /^[A-Z]{1,20} (\/[!-~]{0,2000}) HTTP\/1\.[01]\r?\n/;

const pathFrom = (rawPacket: unknown): string => {
  const head = Buffer.isBuffer(rawPacket) ? rawPacket.subarray(0, 2048).toString('latin1') : '';
  return quotablePath(REQUEST_LINE_PATH.exec(head)?.[1]);
};

/**
 * Answers what Node's HTTP parser refuses before any route, hook or Nest filter sees a request
 * (bad `Content-Length`, a method that is not HTTP, malformed or oversized headers, a timeout):
 * problem details with a fresh request id, like every other error, then the connection closes,
 * since the parser cannot find where the next request would start.
 */
export function answerClientError(error: ConnectionError, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, detail } = answerFor(error);
  const requestId = randomUUID();
  const problem: ProblemDetails = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    instance: pathFrom((error as ConnectionError & { rawPacket?: unknown }).rawPacket),
    request_id: requestId,
  };
  const body = JSON.stringify(problem);
  // The headers of every other answer (security headers; `/api`'s cache rule, else no-store).
  const headers = { 'cache-control': 'no-store', ...responseHeaders(problem.instance) };
  // As Node does by default: never write into a response already under way on this connection.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !current?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}

/**
 * RFC 9112 §3.2: an HTTP/1.1 request without a `Host` header is a 400. Node's own check would
 * answer it with no body and no request id; it is off (HTTP_SERVER_OPTIONS) and done here.
 */
export function requireHost(request: FastifyRequest): void {
  if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
    throw new BadRequestException('An HTTP/1.1 request must carry a Host header');
  }
}
