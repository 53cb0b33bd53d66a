import { ConsoleLogger, Injectable, Module } from '@nestjs/common';
import { Logger, LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import type { Options } from 'pino-http';
import { AppConfig } from '../config/app-config';

/** pino-pretty is a dev dependency: a production image run in development mode has none. */
function prettyPrinterInstalled(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** A written line reaches stdout within this long, however quiet the service. */
const LOG_FLUSH_INTERVAL_MS = 100;

/**
 * Standard output, written in blocks of at least 4 KiB (or every LOG_FLUSH_INTERVAL_MS) rather
 * than with one system call per line, which was an eighth of the CPU time of a request. pino
 * writes out what is pending when the process exits, a crash included.
 */
function bufferedStdout(): pino.DestinationStream {
  return pino.destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
}

/** Nest's own start-up lines: one per module, per controller and per route. */
const FRAMEWORK_START_UP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

const isFrameworkStartUp = (optionalParams: unknown[]): boolean => {
  const context = optionalParams.at(-1);
  return typeof context === 'string' && FRAMEWORK_START_UP_CONTEXTS.has(context);
};

/**
 * The logger until nestjs-pino takes over, and if start-up fails before it does: JSON lines,
 * without Nest's start-up chatter, and without the framework's own record (with its stack) of a
 * start-up failure that `reportedByCaller` says the caller reports itself, in one line.
 */
export class StartupConsoleLogger extends ConsoleLogger {
  constructor(private readonly reportedByCaller: (error: unknown) => boolean) {
    super({ json: true, colors: false });
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    if (!isFrameworkStartUp(optionalParams)) super.log(message, ...optionalParams);
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (!this.reportedByCaller(message)) super.error(message, ...optionalParams);
  }
}

/**
 * nestjs-pino's logger, with Nest's start-up chatter at debug: at info, start-up is the few lines
 * an operator needs (database, migrations, where the service and its docs are).
 */
@Injectable()
export class QuietStartupLogger extends Logger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    if (isFrameworkStartUp(optionalParams)) {
      super.debug(message, ...optionalParams);
    } else {
      super.log(message, ...optionalParams);
    }
  }
}

/**
 * JSON logs through nestjs-pino, registered once: credentials redacted, pretty-printed in a
 * development terminal. The line per request is written by `logRequests` (http/request-log.ts)
 * with the logger this module builds, so nestjs-pino mounts no request middleware: the
 * per-request pino-http child logger, the middleware bridge and the request-scoped
 * AsyncLocalStorage it needed are off the request path. Logs written during a request carry
 * its id explicitly (`requestId`).
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const pretty =
          config.nodeEnv === 'development' && process.stdout.isTTY && prettyPrinterInstalled();
        const options: Options = {
          level: config.logLevel,
          // Nothing logs a raw request or response: the request line is built field by field.
          wrapSerializers: false,
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
          transport: pretty ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
        };
        return { forRoutes: [], pinoHttp: pretty ? options : [options, bufferedStdout()] };
      },
    }),
  ],
  providers: [QuietStartupLogger],
  exports: [QuietStartupLogger],
})
export class LoggingModule {}
