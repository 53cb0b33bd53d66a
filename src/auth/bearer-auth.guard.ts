import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { MissingTokenError, OwnerMismatchError } from './auth.errors';
import { TokenVerifier } from './token-verifier';

/** The raw request carries the caller's id, where the request log reads it (http/logging.module.ts). */
export type RawRequestWithCaller = IncomingMessage & { userId?: string };

type OwnedRouteRequest = FastifyRequest<{ Params: { userId?: string } }>;

// RFC 6750 §2.1 (the scheme is case-insensitive); jose judges the token itself.
const BEARER = /^Bearer\s+(\S.*)$/i;

/**
 * Guards the routes under `/api/:userId`: the bearer token must verify, and its subject must be
 * the `:userId` of the path (else 403). The caller's id is left on the raw request for
 * `@CurrentUser()` and the request log.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(private readonly verifier: TokenVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<OwnedRouteRequest>();
    const { subject } = await this.verifier.verify(bearerToken(request.headers.authorization));
    (request.raw as RawRequestWithCaller).userId = subject;
    if (request.params.userId !== subject) throw new OwnerMismatchError();
    return true;
  }
}

/** The token of an `Authorization: Bearer <token>` header; another scheme counts as no token. */
export function bearerToken(header: string | undefined): string {
  const token = header === undefined ? undefined : BEARER.exec(header.trim())?.[1];
  if (token === undefined) throw new MissingTokenError();
  return token;
}
