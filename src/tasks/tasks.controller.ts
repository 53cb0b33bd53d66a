import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BearerAuthGuard } from '../auth/bearer-auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import { entityTag, expectedVersion } from '../http/entity-tag';
import { InvalidUuidError } from '../http/request-errors';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQueryDto } from './dto/list-tasks-query.dto';
import { TaskResponse, toTaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { decodeCursor, encodeCursor } from './task-cursor';
import type { Task } from './task.entity';
import { TaskNotFoundError } from './task.errors';
import { TasksRepository } from './tasks.repository';
import {
  ApiCreateTask,
  ApiDeleteTask,
  ApiGetTask,
  ApiListTasks,
  ApiTasksController,
  ApiToggleTask,
  ApiUpdateTask,
} from './tasks.openapi';

const TASK_ID = new ParseUUIDPipe({ exceptionFactory: () => new InvalidUuidError('task id') });

/**
 * The tasks REST API (specification §3). Every route is under `/api/:userId`, which the guard checks
 * against the token's subject; the repository scopes every statement to that owner, so another
 * user's task is simply not found. Each handler makes exactly one repository call.
 */
@ApiTasksController()
@Controller('api/:userId/tasks')
@UseGuards(BearerAuthGuard)
export class TasksController {
  constructor(private readonly tasks: TasksRepository) {}

  @Get()
  @ApiListTasks()
  async list(
    @CurrentUser() userId: string,
    @Query() query: ListTasksQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse[]> {
    const page = await this.tasks.list(userId, {
      completed: query.completed,
      sort: query.sort,
      limit: query.limit,
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, query.sort),
    });
    if (page.next) {
      reply.header('Link', `<${nextPageUrl(request.url, encodeCursor(page.next))}>; rel="next"`);
    }
    return page.tasks.map(toTaskResponse);
  }

  @Post()
  @ApiCreateTask()
  async create(
    @CurrentUser() userId: string,
    @Body() body: CreateTaskDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.tasks.create(userId, body);
    reply.header('Location', taskPath(task));
    return withEntityTag(reply, task);
  }

  @Get(':id')
  @ApiGetTask()
  async findOne(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.tasks.findOne(userId, id);
    if (!task) throw new TaskNotFoundError(id);
    return withEntityTag(reply, task);
  }

  @Put(':id')
  @ApiUpdateTask()
  async update(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Body() body: UpdateTaskDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.tasks.update(userId, id, body, expectedVersion(ifMatch));
    return withEntityTag(reply, task);
  }

  @Patch(':id/complete')
  @ApiToggleTask()
  async toggleCompleted(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.tasks.toggleCompleted(userId, id, expectedVersion(ifMatch));
    return withEntityTag(reply, task);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiDeleteTask()
  async remove(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.tasks.remove(userId, id, expectedVersion(ifMatch));
  }
}

function withEntityTag(reply: FastifyReply, task: Task): TaskResponse {
  reply.header('ETag', entityTag(task.version));
  return toTaskResponse(task);
}

const taskPath = (task: Task): string => `/api/${encodeURIComponent(task.userId)}/tasks/${task.id}`;

/** The same path and query with the next page's cursor: a relative reference (RFC 8288 §3.1),
 * so it stays right behind proxies that rewrite the host or scheme. */
function nextPageUrl(requestUrl: string, cursor: string): string {
  const queryStart = requestUrl.indexOf('?');
  const path = queryStart === -1 ? requestUrl : requestUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : requestUrl.slice(queryStart + 1));
  query.set('cursor', cursor);
  return `${path}?${query.toString()}`;
}
