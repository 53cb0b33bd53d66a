import { ExecutionContext, Injectable, Module } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerModule,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../auth/bearer-auth.guard';
import { TokenVerifier } from '../auth/token-verifier';
import { AppConfig } from '../config/app-config';
import { MetricsModule } from '../metrics/metrics.module';
import { MetricsService } from '../metrics/metrics.service';
import { FailOpenRedisThrottlerStorage } from './rate-limit.storage';

/** The API and the MCP endpoint, whose tool calls are API requests too (src/mcp/). */
const isLimitedRoute = (context: ExecutionContext): boolean => {
  const route = context.switchToHttp().getRequest<FastifyRequest>().routeOptions.url;
  return route !== undefined && (route.startsWith('/api/') || route === '/mcp');
};

/**
 * Who a request counts against: the token's subject when the token verifies, else the client's
 * address. The limiter runs before the route's guard, so it checks the token itself; a forged
 * token cannot spend another user's allowance, it only spends its sender's address's.
 */
async function callerKey(request: FastifyRequest, verifier: TokenVerifier): Promise<string> {
  try {
    const { subject } = await verifier.verify(bearerToken(request.headers.authorization));
    return `caller:${subject}`;
  } catch {
    return `address:${request.ip}`;
  }
}

const LET_THROUGH = Promise.resolve(true);

/**
 * @nestjs/throttler's guard, except that with limiting off (the default) it lets every request
 * through at once, rather than looking up the route's throttler metadata on each one only to
 * find that `skipIf` says skip.
 */
@Injectable()
class RateLimitGuard extends ThrottlerGuard {
  private readonly off: boolean;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    config: AppConfig,
  ) {
    super(options, storage, reflector);
    this.off = config.http.rateLimitPerMinute === 0;
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    return this.off ? LET_THROUGH : super.canActivate(context);
  }

  /** A refusal carries the limit headers too: the throttler sets them only on the requests it
   * lets through, and a client backing off needs them most on a 429. */
  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const { res } = this.getRequestResponse(context);
    this.setResponseHeader(res, 'X-RateLimit-Limit', detail.limit);
    this.setResponseHeader(res, 'X-RateLimit-Remaining', 0);
    this.setResponseHeader(res, 'X-RateLimit-Reset', detail.timeToExpire);
    return super.throwThrottlingException(context, detail);
  }
}

/**
 * Optional per-caller rate limiting of the API (RATE_LIMIT_PER_MINUTE; 0, the default, is off):
 * a fixed one-minute window per caller. With REDIS_URL the counters live in Redis, so the limit
 * holds across every replica (and fails open to per-process counting while Redis is away, see
 * rate-limit.storage.ts); without it they live in this process's memory, so with N replicas a
 * caller gets up to N times the limit. Responses carry X-RateLimit-Limit/-Remaining/-Reset; over
 * the limit, a request is answered 429 TOO_MANY_REQUESTS with Retry-After; health, metrics and
 * docs are never limited.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [MetricsModule],
      inject: [AppConfig, TokenVerifier, MetricsService],
      useFactory: async (config: AppConfig, verifier: TokenVerifier, metrics: MetricsService) => {
        const limit = config.http.rateLimitPerMinute;
        const redisUrl = config.http.rateLimitRedisUrl;
        return {
          // Undefined: @nestjs/throttler's own storage, in this process's memory.
          storage:
            limit > 0 && redisUrl !== null
              ? await FailOpenRedisThrottlerStorage.connect(redisUrl, metrics)
              : undefined,
          // Named `default` so that the headers are plain `Retry-After`, `X-RateLimit-Limit`, ….
          throttlers: [{ name: 'default', ttl: 60_000, limit: Math.max(limit, 1) }],
          skipIf: (context: ExecutionContext) => limit === 0 || !isLimitedRoute(context),
          getTracker: (request: Record<string, unknown>) =>
            callerKey(request as unknown as FastifyRequest, verifier),
          // One allowance per caller across every route (the default key is per route).
          generateKey: (_context: ExecutionContext, tracker: string, name: string) =>
            `rate-limit:${name}:${tracker}`,
        };
      },
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
