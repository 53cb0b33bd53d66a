import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { RawRequestWithCaller } from './bearer-auth.guard';

/**
 * The id of the authenticated caller (the token's `sub`), as set by `BearerAuthGuard`; only on
 * routes that guard protects.
 */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const userId = (request.raw as RawRequestWithCaller).userId;
  if (userId === undefined)
    throw new Error('@CurrentUser() used on a route without BearerAuthGuard');
  return userId;
});
