import { DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { ENTITIES } from './entities';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './http/logging.module';
import { McpModule } from './mcp/mcp.module';
import { RateLimitModule } from './http/rate-limit.module';
import { MetricsModule } from './metrics/metrics.module';
import { RESOURCE_MODULES } from './resources';
import { MaintenanceModule } from './sync/maintenance.module';

export interface AppModuleOptions {
  /** The configuration; read and validated from the environment when absent. */
  config?: AppConfig;
  /** More modules (a test's own controllers, for example). */
  imports?: ModuleMetadata['imports'];
}

// `nest g resource` adds the module it generates here (the service's own modules are in forRoot).
@Module({ imports: [] })
export class AppModule {
  /** Configuration is read and validated first: a bad environment throws here. */
  static forRoot({ config, imports = [] }: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        DatabaseModule.forRoot(ENTITIES),
        HealthModule,
        // Before AuthModule: global guards run in registration order, and the limiter must also
        // count the requests that authentication refuses.
        RateLimitModule,
        AuthModule,
        ...RESOURCE_MODULES,
        McpModule,
        MetricsModule,
        MaintenanceModule,
        EventsModule,
        ...imports,
      ],
    };
  }
}
