import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, isStartupMisconfiguration } from './app.factory';
import { AppConfig } from './config/app-config';
import { loadAppConfig } from './config/config.module';
import { refuseEmbeddedDatabaseInUse } from './database/embedded-postgres';
import { ShutdownService } from './health/shutdown.service';
import { DOCS_PATH } from './http/openapi';

/** Start-up failures the operator can fix are one clear line, not a stack trace. */
function exitOnStartupFailure(error: unknown): never {
  const known = isStartupMisconfiguration(error);
  const line = {
    level: 'fatal',
    time: Date.now(),
    msg: known ? error.message : 'start-up failed',
    ...(known
      ? {}
      : {
          err:
            error instanceof Error ? { type: error.name, message: error.message } : String(error),
        }),
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  process.exit(1);
}

async function bootstrap(): Promise<void> {
  const started = performance.now();
  let config: AppConfig;
  try {
    config = loadAppConfig();
    refuseEmbeddedDatabaseInUse(config);
  } catch (error) {
    exitOnStartupFailure(error);
  }
  const app = await createApp({ config }).catch(exitOnStartupFailure);
  const shutdown = app.get(ShutdownService);
  const logger = new Logger('Bootstrap');

  // SIGTERM: readiness turns 503 at once, requests keep being served for SHUTDOWN_GRACE_MS so
  // that load balancers catch up, then the listener closes, in-flight requests finish, the pool
  // closes and the process exits 0. SIGINT (Ctrl-C in a terminal) skips the grace period.
  // In-flight requests get as long as their database work may take (a connection, then a
  // statement); connections still open at that deadline (a client sending its request a byte at
  // a time, which no server timeout cuts once the listener is closed) are closed, so that a
  // stalled client cannot hold the process until the orchestrator's SIGKILL.
  const drainMs = config.database.connectTimeoutMs + config.database.statementTimeoutMs;
  const stop = (signal: NodeJS.Signals, graceMs: number): void => {
    if (shutdown.isShuttingDown) return;
    shutdown.beginShutdown(signal, graceMs);
    setTimeout(() => {
      logger.log({ drainMs }, 'grace period over: closing the listener; in-flight requests finish');
      const closing = performance.now();
      setTimeout(() => {
        logger.warn({ drainMs }, 'drain deadline passed: closing the connections left');
        app.getHttpServer().closeAllConnections();
      }, drainMs).unref();
      app
        .close()
        .then(() => {
          logger.log(
            { drainMs: Math.round(performance.now() - closing) },
            'stopped: listener closed, in-flight requests finished, database pool closed',
          );
          process.exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        });
    }, graceMs).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM', config.http.shutdownGraceMs));
  process.on('SIGINT', () => stop('SIGINT', 0));

  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  const docs = `${url}/${DOCS_PATH}`;
  if (config.auth.usesDevelopmentSecret) {
    logger.warn(
      'No AUTH_JWT_SECRET or AUTH_JWKS_URL: using the fixed DEVELOPMENT secret. Never deploy like this.',
    );
  }
  logger.log(
    { url, docs, startupMs: Math.round(performance.now() - started) },
    `tasks service listening on ${url}; API docs at ${docs}`,
  );
  if (config.nodeEnv === 'development' && config.auth.jwtSecret !== null) {
    logger.log(
      `Get a token: npm run -s token -- <userId>; send it as "Authorization: Bearer <token>" (or Authorize in ${docs})`,
    );
  }
}

void bootstrap();
