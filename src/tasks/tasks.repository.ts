import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { defineOwnedStatements, defineOwnedWrite } from '../owned-resources/owned-statements';
import { OwnedRepository, TypeOrmOwnedRepository } from '../owned-resources/owned.repository';
import { Task } from './task.entity';
import { type CreateTaskInput, type TaskPatch, type TaskSort, TASKS } from './tasks.resource';

const STATEMENTS = defineOwnedStatements(TASKS);
/** `completed = NOT completed` in SQL: a toggle is one atomic statement, never read-then-write. */
const TOGGLE = defineOwnedWrite(TASKS, 'toggleCompleted', () => ({
  completed: () => 'NOT completed',
}));

/**
 * Data access for tasks: the owned-resource operations, and the toggle. The abstract class is
 * the DI token, so a module can provide another implementation.
 */
export abstract class TasksRepository extends OwnedRepository<
  Task,
  TaskSort,
  CreateTaskInput,
  TaskPatch
> {
  abstract toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task>;
}

@Injectable()
export class TypeOrmTasksRepository
  extends TypeOrmOwnedRepository<Task, TaskSort, CreateTaskInput, TaskPatch>
  implements TasksRepository
{
  constructor(@InjectRepository(Task) tasks: Repository<Task>) {
    super(TASKS, STATEMENTS, tasks);
  }

  toggleCompleted(userId: string, id: string, expectedVersion?: number): Promise<Task> {
    return this.write(
      TOGGLE,
      { checked: expectedVersion !== undefined },
      userId,
      id,
      expectedVersion,
    );
  }
}
