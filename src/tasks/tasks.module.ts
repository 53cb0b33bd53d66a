import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Task } from './task.entity';
import { TaskTagsController } from './task-tags.controller';
import { TasksController } from './tasks.controller';
import { TasksRepository, TypeOrmTasksRepository } from './tasks.repository';
import { TASKS } from './tasks.resource';

@Module({
  imports: [TypeOrmModule.forFeature([Task])],
  controllers: [TasksController, TaskTagsController],
  providers: [{ provide: TasksRepository, useClass: TypeOrmTasksRepository }],
  exports: [TasksRepository],
})
export class TasksModule {
  /** What the registry of resources (src/resources.ts) reads. */
  static readonly resource = TASKS;
}
