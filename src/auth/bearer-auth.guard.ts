import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { MissingTokenError, OwnerMismatchError } from './auth.errors';
import { IS_PUBLIC } from './public.decorator';
import { TokenVerifier } from './token-verifier';

/** The raw request carries the caller's id, where the request log reads it (http/logging.module.ts). */
export type RawRequestWithCaller = IncomingMessage & { userId?: string };

export type RouteRequest = FastifyRequest<{ Params: { userId?: string } }>;

// RFC 6750 §2.1 (the scheme is case-insensitive); TokenVerifier judges the token itself.
const BEARER = /^Bearer\s+(\S.*)$/i;

/**
 * The global guard (registered as APP_GUARD by AuthModule): every route needs a bearer token that
 * verifies, unless it is marked `@Public()`. On a route with a `:userId` parameter the token's
 * subject must also be that user (else 403). The caller's id is left on the raw request for
 * `@CurrentUser()` and the request log.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  /** Whether each route is `@Public()`, by controller and handler: metadata never changes. */
  private readonly publicRoutes = new WeakMap<object, WeakMap<object, boolean>>();

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic(context)) return true;
    await authenticateCaller(this.verifier, context.switchToHttp().getRequest<RouteRequest>());
    return true;
  }

  private isPublic(context: ExecutionContext): boolean {
    const controller = context.getClass();
    const handler = context.getHandler();
    let routes = this.publicRoutes.get(controller);
    if (routes === undefined) {
      routes = new WeakMap();
      this.publicRoutes.set(controller, routes);
    }
    let isPublic = routes.get(handler);
    if (isPublic === undefined) {
      isPublic =
        this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [handler, controller]) ===
        true;
      routes.set(handler, isPublic);
    }
    return isPublic;
  }
}

/**
 * Verifies the request's bearer token and, on a route with a `:userId` parameter, that its
 * subject is that user (else 403); leaves the caller's id on the raw request and answers it.
 * The guard's check, also for a route that accepts another credential beside it.
 */
export async function authenticateCaller(
  verifier: TokenVerifier,
  request: RouteRequest,
): Promise<string> {
  const { subject } = await verifier.verify(bearerToken(request.headers.authorization));
  (request.raw as RawRequestWithCaller).userId = subject;
  const owner = request.params.userId;
  if (owner !== undefined && owner !== subject) throw new OwnerMismatchError();
  return subject;
}

/** The token of an `Authorization: Bearer <token>` header; another scheme counts as no token. */
export function bearerToken(header: string | undefined): string {
  const token = header === undefined ? undefined : BEARER.exec(header.trim())?.[1];
  if (token === undefined) throw new MissingTokenError();
  return token;
}
