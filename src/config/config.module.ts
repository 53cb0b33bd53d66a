import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import { validateEnvironment } from './environment';
import { readEnvironment } from './environment-file';

/** The service's configuration from `.env` and the environment, validated once. */
export const loadAppConfig = (): AppConfig =>
  AppConfig.fromEnvironment(validateEnvironment(readEnvironment()));

/**
 * Exposes the typed `AppConfig` to every module. Given none, `forRoot` reads and validates the
 * environment, throwing `InvalidEnvironmentError` before any module starts; tests pass one.
 */
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig = loadAppConfig()): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: AppConfig, useValue: config }],
      exports: [AppConfig],
    };
  }
}
