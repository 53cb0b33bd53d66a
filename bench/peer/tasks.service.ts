import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Equal, IsNull, LessThan, Repository } from 'typeorm';
import { CreateTaskDto } from './dto/create-task.dto';
import { UpdateTaskDto } from './dto/update-task.dto';
import { Task } from './task.entity';

/** A page of tasks, and the cursor of the next one while more follow. */
export interface TaskPage {
  tasks: Task[];
  nextCursor: string | null;
}

/**
 * The tasks of one owner through the injected TypeORM repository. Every lookup is scoped to the
 * owner and to live tasks (`deleted_at IS NULL`): another user's task, or one in the trash, is a 404.
 */
@Injectable()
export class TasksService {
  constructor(@InjectRepository(Task) private readonly tasksRepository: Repository<Task>) {}

  /** Newest first, ties by id; the cursor is the last task's `created_at` and id. */
  async findPage(userId: string, limit: number, cursor?: string): Promise<TaskPage> {
    const live = { userId, deletedAt: IsNull() };
    const after = cursor === undefined ? null : decodeCursor(cursor);
    const tasks = await this.tasksRepository.find({
      where: after
        ? [
            { ...live, createdAt: LessThan(after.createdAt) },
            { ...live, createdAt: Equal(after.createdAt), id: LessThan(after.id) },
          ]
        : live,
      order: { createdAt: 'DESC', id: 'DESC' },
      take: limit + 1,
    });
    if (tasks.length <= limit) return { tasks, nextCursor: null };
    const page = tasks.slice(0, limit);
    return { tasks: page, nextCursor: encodeCursor(page[page.length - 1]) };
  }

  async findOne(userId: string, id: string): Promise<Task> {
    const task = await this.tasksRepository.findOneBy({ id, userId, deletedAt: IsNull() });
    if (!task) throw new NotFoundException(`Task ${id} not found`);
    return task;
  }

  create(userId: string, dto: CreateTaskDto): Promise<Task> {
    return this.tasksRepository.save(this.tasksRepository.create({ ...dto, userId }));
  }

  async update(userId: string, id: string, dto: UpdateTaskDto): Promise<Task> {
    if (Object.keys(dto).length === 0) {
      throw new BadRequestException('At least one field must be given');
    }
    const task = await this.findOne(userId, id);
    return this.tasksRepository.save(this.tasksRepository.merge(task, dto));
  }

  async toggleCompleted(userId: string, id: string): Promise<Task> {
    const task = await this.findOne(userId, id);
    task.completed = !task.completed;
    return this.tasksRepository.save(task);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function encodeCursor(task: Task): string {
  return Buffer.from(JSON.stringify([task.createdAt.toISOString(), task.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    const date = new Date(String(createdAt));
    if (!Number.isNaN(date.getTime()) && typeof id === 'string' && UUID.test(id)) {
      return { createdAt: date, id };
    }
  } catch {
    // Not base64url JSON: refused below like any other bad cursor.
  }
  throw new BadRequestException('cursor is not valid');
}
