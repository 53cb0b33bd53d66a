import { Injectable, Logger, type LoggerService } from '@nestjs/common';
import { ShutdownService } from './shutdown.service';

/**
 * Terminus's logger. A failed check is an error while the service runs; once a shutdown has
 * begun, readiness fails on purpose (so that load balancers stop sending traffic) and the probes
 * that see it are logged at debug, not as an error per probe.
 */
@Injectable()
export class HealthCheckLogger implements LoggerService {
  private readonly logger = new Logger('HealthCheck');

  constructor(private readonly shutdown: ShutdownService) {}

  log(message: unknown): void {
    this.logger.log(message);
  }

  warn(message: unknown): void {
    this.logger.warn(message);
  }

  error(message: unknown): void {
    if (this.shutdown.isShuttingDown) this.logger.debug(message);
    else this.logger.error(message);
  }
}
