import { Module, RequestMethod } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

type LoggedRequest = IncomingMessage & { id?: string; userId?: string; route?: string };

const isProbe = (request: IncomingMessage): boolean =>
  request.url === '/health' ||
  request.url?.startsWith('/health/') === true ||
  request.url === '/metrics';

/** pino-pretty is a dev dependency: a production image run in development mode has none. */
function prettyPrinterInstalled(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON logs through nestjs-pino, registered once: a line per request with its id, method,
 * route, status, duration and caller; credentials redacted; probes only at debug.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // nestjs-pino's default route, `{/*splat}`, reaches @fastify/middie as `/{/*splat}`,
        // which matches no request path: without this, no request is ever logged.
        forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        pinoHttp: {
          level: config.logLevel,
          // The id was assigned by the HTTP adapter (see http/request-id.ts).
          genReqId: (request: LoggedRequest) => request.id ?? 'unknown',
          customLogLevel: (request, response, error) => {
            if (error || response.statusCode >= 500) return 'error';
            if (isProbe(request)) return 'debug';
            return response.statusCode >= 400 ? 'warn' : 'info';
          },
          // The route is known when the request arrives (set by an onRequest hook in
          // app.factory.ts); the caller only once the guard has run, so it joins the final line.
          // pino-http adds props a second time at the end unless they are unchanged.
          customProps: (request: LoggedRequest) => ({ route: request.route }),
          customSuccessObject: (request: LoggedRequest, _response, fields: object) => ({
            ...fields,
            userId: request.userId,
          }),
          customErrorObject: (request: LoggedRequest, _response, _error, fields: object) => ({
            ...fields,
            userId: request.userId,
          }),
          serializers: {
            req: (request: { id: string; method: string; url: string }) => ({
              id: request.id,
              method: request.method,
              url: request.url,
            }),
            res: (response: ServerResponse | { statusCode: number }) => ({
              statusCode: response.statusCode,
            }),
          },
          redact: {
            paths: [
              'req.headers.authorization',
              'req.headers.cookie',
              'res.headers["set-cookie"]',
              '*.password',
              '*.DATABASE_URL',
            ],
            censor: '[redacted]',
          },
          transport:
            config.nodeEnv === 'development' && process.stdout.isTTY && prettyPrinterInstalled()
              ? { target: 'pino-pretty', options: { singleLine: true } }
              : undefined,
        },
      }),
    }),
  ],
})
export class LoggingModule {}
