import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './http/logging.module';
import { RateLimitModule } from './http/rate-limit.module';
import { MetricsModule } from './metrics/metrics.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /** Async because configuration is read and validated first: a bad environment rejects here. */
  static async forRoot(): Promise<DynamicModule> {
    return {
      module: AppModule,
      imports: [
        await ConfigModule.forRoot(),
        LoggingModule,
        DatabaseModule,
        HealthModule,
        AuthModule,
        RateLimitModule,
        TasksModule,
        MetricsModule,
      ],
    };
  }
}
