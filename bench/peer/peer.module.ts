import { Module, RequestMethod } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { HealthController } from './health.controller';
import { Task } from './task.entity';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({
  imports: [
    // nestjs-pino's default route pattern, `{/*splat}`, matches no request on this version of
    // @nestjs/platform-fastify (no request is logged): the docs' catch-all pattern does.
    LoggerModule.forRoot({ forRoutes: [{ path: '*path', method: RequestMethod.ALL }] }),
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [Task],
      poolSize: Number(process.env.DATABASE_POOL_MAX ?? 10),
      synchronize: false,
    }),
    TypeOrmModule.forFeature([Task]),
  ],
  controllers: [HealthController, TasksController],
  providers: [TasksService],
})
export class PeerModule {}
