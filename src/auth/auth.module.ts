import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BearerAuthGuard } from './bearer-auth.guard';
import { TokenVerifier } from './token-verifier';

@Global()
@Module({
  providers: [
    {
      provide: TokenVerifier,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => TokenVerifier.create(config.auth),
    },
    BearerAuthGuard,
  ],
  exports: [TokenVerifier, BearerAuthGuard],
})
export class AuthModule {}
