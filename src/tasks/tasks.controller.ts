import {
  Body,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser } from '../auth/current-user.decorator';
import { NoBody } from '../http/no-body';
import { RequestValidationError } from '../http/request-errors';
import { decodeCursor } from '../owned-resources/cursor';
import { expectedVersion, withEntityTag } from '../owned-resources/entity-tag';
import { ownedCrudController } from '../owned-resources/owned-crud.controller';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, withNextLink } from '../owned-resources/pagination';
import { resourceIdPipe } from '../owned-resources/resource-id.pipe';
import { BulkUpdateTasksDto } from './dto/bulk-update-tasks.dto';
import { ClearCompletedQueryDto, ClearedTasksResponse } from './dto/clear-completed-query.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQueryDto } from './dto/list-tasks-query.dto';
import { TaskResponse, toTaskResponse, toTrashedTaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import { TaskTrashApi } from './task-trash.openapi';
import { TASK_TRASH, TASK_TRASH_SORT, TASKS } from './tasks.resource';
import { TasksApi } from './tasks.openapi';
import { TasksRepository } from './tasks.repository';

const TASK_ID = resourceIdPipe('task');
const ifMatchVersion = (ifMatch: string | undefined) => expectedVersion(ifMatch, 'task');

/**
 * The tasks REST API (specification §3): the routes every owned resource has, with the list's
 * filters and trash, and the routes of tasks' own: the toggle, restore, bulk changes and clearing
 * the completed ones. Every route is under `/api/:userId`, which the global guard checks against
 * the token's subject; the repository scopes every statement to that owner, so another user's
 * task is simply not found. Each handler makes exactly one repository call.
 */
export class TasksController extends ownedCrudController({
  resource: TASKS,
  repository: TasksRepository,
  createBody: CreateTaskDto,
  updateBody: UpdateTaskDto,
  response: TaskResponse,
  toResponse: toTaskResponse,
  api: TasksApi,
  describe: {
    changes: {
      description:
        'Without `since`: every live task. With it: every task created or changed since, with `deleted: false`, and every task deleted or moved to the trash since, as `{"id", "deleted": true}`. Apply them in order and ask again with `next`; no change is skipped, one may come twice.',
    },
    findOne: {
      description: "404 when there is no such task, it is in the trash, or it is another user's.",
    },
    update: {
      description:
        'Absent fields keep their value; `description: null` clears it, `list_id: null` takes the task out of its list; an empty object is a 400.',
    },
    remove: {
      summary: 'Move a task to the trash',
      description:
        'The task disappears from every route but the trash (`?trashed=true`) and `POST …/restore`, and is purged for good after the retention period.',
    },
  },
}) {
  @Get()
  @TasksApi.List({
    summary: "List the caller's tasks, a page at a time",
    description: `Newest first unless \`sort\` says otherwise, filtered by \`completed\` and \`list_id\`; \`limit\` (1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}) per page, and a \`Link\` header to the next page while more follow. \`trashed=true\` lists the trash instead, newest first by \`deleted_at\`.`,
    badQuery: 'Bad completed, list_id, trashed, sort, limit or cursor',
  })
  override async list(
    @CurrentUser() userId: string,
    @Query() query: ListTasksQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse[]> {
    if (query.trashed) return this.listTrash(userId, query, request, reply);
    return super.list(userId, query, request, reply);
  }

  @Patch(':id/complete')
  @NoBody()
  @TasksApi.Action({
    summary: 'Toggle whether a task is completed',
    description: 'Flips `completed` in one statement, `version` + 1. Takes no body.',
  })
  async toggleCompleted(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.repository.toggleCompleted(userId, id, ifMatchVersion(ifMatch));
    return withEntityTag(reply, task, toTaskResponse);
  }

  @Post(':id/restore')
  @HttpCode(HttpStatus.OK)
  @NoBody()
  @TaskTrashApi.Restore()
  async restore(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.repository.restore(userId, id);
    return withEntityTag(reply, task, toTaskResponse);
  }

  @Patch()
  @TaskTrashApi.BulkUpdate()
  async bulkUpdate(
    @CurrentUser() userId: string,
    @Body() body: BulkUpdateTasksDto,
  ): Promise<TaskResponse[]> {
    if (body.completed === undefined && body.list_id === undefined) {
      throw RequestValidationError.of('body', 'a bulk update must set completed or list_id');
    }
    const tasks = await this.repository.bulkUpdate(userId, body.ids, {
      completed: body.completed,
      listId: body.list_id,
    });
    return tasks.map(toTaskResponse);
  }

  @Delete()
  @HttpCode(HttpStatus.OK)
  @NoBody()
  @TaskTrashApi.ClearCompleted()
  async clearCompleted(
    @CurrentUser() userId: string,
    @Query() query: ClearCompletedQueryDto,
  ): Promise<ClearedTasksResponse> {
    return { deleted: await this.repository.clearCompleted(userId, query.list_id) };
  }

  /** `GET …/tasks?trashed=true`: the trash has one order and no filters. */
  private async listTrash(
    userId: string,
    query: ListTasksQueryDto,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<TaskResponse[]> {
    const given = request.query as Record<string, unknown>;
    const refused = ['sort', 'completed', 'list_id'].filter((name) => given[name] !== undefined);
    if (refused.length > 0) {
      throw new RequestValidationError(
        refused.map((field) => ({
          field,
          message: `${field} does not apply to the trash (trashed=true), which is newest first`,
        })),
      );
    }
    const page = await this.repository.listTrash(userId, {
      limit: query.limit,
      after:
        query.cursor === undefined
          ? undefined
          : decodeCursor(query.cursor, TASK_TRASH_SORT, TASK_TRASH),
    });
    return withNextLink(request, reply, page).map(toTrashedTaskResponse);
  }
}
