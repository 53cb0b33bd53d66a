import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthCheckLogger } from './health-check.logger';
import { MetricsModule } from '../metrics/metrics.module';
import { HealthController } from './health.controller';
import { LivenessPort } from './liveness-listener';
import { RequestShedding } from './request-shedding';
import { ShutdownService } from './shutdown.service';

@Global()
@Module({
  imports: [
    TerminusModule.forRoot({ errorLogStyle: 'json', logger: HealthCheckLogger }),
    MetricsModule,
  ],
  controllers: [HealthController],
  providers: [ShutdownService, RequestShedding, LivenessPort],
  exports: [ShutdownService],
})
export class HealthModule {}
