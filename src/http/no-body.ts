import {
  applyDecorators,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { RequestValidationError } from './request-errors';

/**
 * Refuses any body (400) on the route it guards. Runs after the guards (so a caller without a
 * token still gets 401) and before the pipes; an empty body, with or without a Content-Type, is
 * no body. A non-JSON body has already been refused with 415 by the body parser.
 */
@Injectable()
export class NoBodyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (request.body !== undefined) {
      throw RequestValidationError.of('body', 'this route takes no body: send none');
    }
    return next.handle();
  }
}

/**
 * For a route whose meaning is all in its method and path (a toggle, for example): a body would
 * be ignored, and a client that sent `{"completed":true}` expecting it to count would be misled.
 */
export const NoBody = () => applyDecorators(UseInterceptors(NoBodyInterceptor));
