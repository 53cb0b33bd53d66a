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
import { Public } from '../auth/public.decorator';
import { AppConfig } from '../config/app-config';
import { ShutdownService } from './shutdown.service';

/** Probes answer without a token: orchestrators and load balancers have none. */
@Public()
@ApiTags('health')
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
    summary: 'Readiness, the same check as /health/ready',
    description: 'Database ping (time-bounded) and shutdown state; 503 when either fails.',
  })
  check(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: can this instance take traffic?',
    description:
      'Database ping (time-bounded) and shutdown state; 503 when the database is down or ' +
      'the process is shutting down, so a load balancer stops sending requests.',
  })
  ready(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  /** Liveness: the process answers. No dependency is checked, so a database outage never
   * makes an orchestrator restart healthy pods. */
  @Get('live')
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness: does the process answer?',
    description: 'Checks no dependency, so a database outage never restarts healthy instances.',
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
