import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Task } from './task.entity';
import { TasksRepository, TypeOrmTasksRepository } from './tasks.repository';

@Module({
  imports: [TypeOrmModule.forFeature([Task])],
  providers: [{ provide: TasksRepository, useClass: TypeOrmTasksRepository }],
  exports: [TasksRepository],
})
export class TasksModule {}
