import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthCheckLogger } from './health-check.logger';
import { HealthController } from './health.controller';
import { RequestShedding } from './request-shedding';
import { ShutdownService } from './shutdown.service';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json', logger: HealthCheckLogger })],
  controllers: [HealthController],
  providers: [ShutdownService, RequestShedding],
  exports: [ShutdownService],
})
export class HealthModule {}
