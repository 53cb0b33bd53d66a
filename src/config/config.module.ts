import { DynamicModule, Module } from '@nestjs/common';
import { type ConfigType, ConfigModule as NestConfigModule, registerAs } from '@nestjs/config';
import { AppConfig } from './app-config';
import { validateEnvironment } from './environment';
import { readEnvironment } from './environment-file';

/** The service's configuration from `.env` and the environment, validated once. */
export const loadAppConfig = (): AppConfig =>
  AppConfig.fromEnvironment(validateEnvironment(readEnvironment()));

/** The namespace under which `ConfigService` serves the typed settings. */
export const APP_CONFIG_NAMESPACE = 'app';

/** What `ConfigService<ConfigNamespaces, true>` serves: `config.get('app', { infer: true })`. */
export interface ConfigNamespaces {
  [APP_CONFIG_NAMESPACE]: AppConfig;
}

/**
 * `@nestjs/config` holding the typed `AppConfig`, exposed to every module as `AppConfig` and as
 * `ConfigService`'s `app` namespace. Given none, `forRoot` reads and validates the environment
 * itself, throwing `InvalidEnvironmentError` before any module is built; tests pass one.
 */
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig = loadAppConfig()): DynamicModule {
    const appSettings = registerAs(APP_CONFIG_NAMESPACE, () => config);
    return {
      module: ConfigModule,
      global: true,
      imports: [
        NestConfigModule.forRoot({
          isGlobal: true,
          // The settings are validated already, and `.env` has one reader (readEnvironment).
          // Without an env file, with process.env left out of its input (`validatePredefined`,
          // formerly `ignoreEnvVars`) and no `validate` (whose result it would copy into
          // process.env), the module neither reads nor writes the environment.
          ignoreEnvFile: true,
          validatePredefined: false,
          // `get` falls back to process.env otherwise: settings come from `AppConfig` alone.
          skipProcessEnv: true,
          load: [appSettings],
        }),
      ],
      providers: [
        {
          provide: AppConfig,
          inject: [appSettings.KEY],
          useFactory: (settings: ConfigType<typeof appSettings>): AppConfig => settings,
        },
      ],
      exports: [AppConfig],
    };
  }
}
