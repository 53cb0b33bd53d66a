import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { jwtVerify } from 'jose';

type TasksRequest = FastifyRequest<{ Params: { userId: string } }> & { user?: { sub: string } };

/**
 * The NestJS docs' authentication guard, with jose in place of @nestjs/jwt (not a dependency of
 * this project): the bearer token must be an HS256 JWT signed with AUTH_JWT_SECRET, and its
 * subject must be the `:userId` of the path.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  private readonly secret = new TextEncoder().encode(process.env.AUTH_JWT_SECRET);

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<TasksRequest>();
    const [type, token] = request.headers.authorization?.split(' ') ?? [];
    if (type !== 'Bearer' || !token) throw new UnauthorizedException();
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        clockTolerance: 60,
        requiredClaims: ['exp', 'sub'],
      });
      request.user = { sub: payload.sub as string };
    } catch {
      throw new UnauthorizedException();
    }
    if (request.user.sub !== request.params.userId) throw new ForbiddenException();
    return true;
  }
}
