import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UseGuards,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RequestValidationError } from './request-errors';

/**
 * Refuses any body (400) on the route it guards. A route's guards run after the global ones (so
 * a caller without a token still gets 401) and before the pipes; an empty body, with or without
 * a Content-Type, is no body. A non-JSON body has already been refused with 415 by the body
 * parser. A guard rather than an interceptor: an interceptor puts RxJS on the route's path, 6 %
 * of a toggle's CPU time.
 */
@Injectable()
export class NoBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (request.body !== undefined) {
      throw RequestValidationError.of('body', 'this route takes no body: send none');
    }
    return true;
  }
}

/**
 * For a route whose meaning is all in its method and path (a toggle, for example): a body would
 * be ignored, and a client that sent `{"completed":true}` expecting it to count would be misled.
 */
export const NoBody = () => applyDecorators(UseGuards(NoBodyGuard));
