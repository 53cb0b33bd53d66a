import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule, ConfigService } from '@nestjs/config';
import { AppConfig } from './app-config';
import { Environment, validateEnvironment } from './environment';

/**
 * Reads `.env` (real environment variables win), validates every variable once and exposes the
 * typed `AppConfig`. `forRoot` rejects with `InvalidEnvironmentError` before any module starts.
 */
@Module({})
export class ConfigModule {
  static async forRoot(): Promise<DynamicModule> {
    const nestConfig = await NestConfigModule.forRoot({
      cache: true,
      envFilePath: '.env',
      // Tests and production take their configuration from the environment alone.
      ignoreEnvFile: process.env.NODE_ENV === 'production' || process.env.NODE_ENV === 'test',
      validate: validateEnvironment,
    });
    return {
      module: ConfigModule,
      global: true,
      imports: [nestConfig],
      providers: [
        {
          provide: AppConfig,
          inject: [ConfigService],
          useFactory: (config: ConfigService): AppConfig =>
            AppConfig.fromEnvironment(
              config.get<Environment>('__validated_env__') ?? validateEnvironment(process.env),
            ),
        },
      ],
      exports: [AppConfig],
    };
  }
}
