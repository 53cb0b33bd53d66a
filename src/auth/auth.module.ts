import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { BearerAuthGuard } from './bearer-auth.guard';
import { TokenVerifier } from './token-verifier';

/** Routes are private by default: the bearer guard is global, `@Public()` opts a route out. */
@Global()
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => TokenVerifier.create(config.auth),
    },
    { provide: APP_GUARD, useClass: BearerAuthGuard },
  ],
  exports: [TokenVerifier],
})
export class AuthModule {}
