import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { ShutdownService } from './shutdown.service';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly shutdown: ShutdownService,
    private readonly config: AppConfig,
  ) {}

  /** Readiness: the database answers a ping within the timeout, and no shutdown has begun. */
  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness',
    description:
      'Same check as /health/ready: 503 while the database is unreachable or shutdown has begun.',
  })
  check(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness',
    description: '200 when the database answers a ping and no shutdown has begun; else 503.',
  })
  ready(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  /** Liveness: the process answers. No dependency is checked, so a database outage never
   * makes an orchestrator restart healthy pods. */
  @Get('live')
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness',
    description: 'Checks nothing but that the process answers, so an outage never restarts it.',
  })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  private readiness(): Promise<HealthCheckResult> {
    return this.health.check([() => this.lifecycle(), () => this.databaseReachable()]);
  }

  /** Up or down, and nothing more: the driver's message would tell any caller the database's
   * host, port or name (specification §12); the cause is in the logs of the requests that fail. */
  private async databaseReachable(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('database');
    try {
      const result = await this.database.pingCheck('database', {
        timeout: this.config.database.connectTimeoutMs,
      });
      return result.database?.status === 'up' ? indicator.up() : indicator.down();
    } catch {
      return indicator.down();
    }
  }

  private lifecycle(): HealthIndicatorResult {
    const indicator = this.indicators.check('lifecycle');
    return this.shutdown.isShuttingDown
      ? indicator.down({ state: 'shutting_down' })
      : indicator.up({ state: 'serving' });
  }
}
