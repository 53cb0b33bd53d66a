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
  Put,
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
import { IdempotencyKey, type IdempotentRequest } from '../owned-resources/idempotency';
import { ownedCrudController } from '../owned-resources/owned-crud.controller';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, withNextLink } from '../owned-resources/pagination';
import { resourceIdPipe } from '../owned-resources/resource-id.pipe';
import { BulkUpdateTasksDto } from './dto/bulk-update-tasks.dto';
import { ClearCompletedQueryDto, ClearedTasksResponse } from './dto/clear-completed-query.dto';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQueryDto } from './dto/list-tasks-query.dto';
import { TaskResponse, toTaskResponse, toTrashedTaskResponse } from './dto/task.response';
import { UpdateTaskDto } from './dto/update-task.dto';
import type { Task } from './task.entity';
import { TaskTrashApi } from './task-trash.openapi';
import {
  DEFAULT_SEARCH_SORT,
  DEFAULT_TASK_SORT,
  TASK_TRASH,
  TASK_TRASH_SORT,
  type TaskPatch,
  type TaskSort,
  TASKS,
} from './tasks.resource';
import { TasksApi } from './tasks.openapi';
import { TasksRepository } from './tasks.repository';
import { recurrenceChanges } from './task-schedule';

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
    description: `Newest first unless \`sort\` says otherwise (by relevance with \`q\`); the filters (\`completed\`, \`list_id\`, \`priority\`, \`tag\`, \`due_from\`, \`due_to\`, \`has_due\`, \`q\`) combine with AND. \`limit\` (1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}) per page, and a \`Link\` header to the next page while more follow. \`trashed=true\` lists the trash instead, newest first by \`deleted_at\`.`,
    badQuery: 'Bad filter, search, trashed, sort, limit or cursor',
  })
  override async list(
    @CurrentUser() userId: string,
    @Query() query: ListTasksQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse[]> {
    if (query.trashed) return this.listTrash(userId, query, request, reply);
    const sort = listSort(query, request);
    const page = await this.repository.list(userId, {
      sort,
      limit: query.limit,
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort, TASKS),
      filters: {
        completed: query.completed,
        listId: query.list_id,
        priorities: query.priority,
        tags: query.tag,
        dueFrom: query.due_from,
        dueTo: query.due_to,
        hasDue: query.has_due,
        words: query.q === undefined ? undefined : searchWords(query.q),
      },
    });
    return withNextLink(request, reply, page).map(toTaskResponse);
  }

  @Post()
  @TasksApi.Create({
    summary: 'Create a task',
    description: 'Answers 201 with the task, its URL in `Location` and its version in `ETag`.',
  })
  override async create(
    @CurrentUser() userId: string,
    @Body() body: CreateTaskDto,
    @IdempotencyKey() idempotency: IdempotentRequest | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.repository.create(
      userId,
      { ...toTaskPatch(body, 'create'), title: body.title },
      idempotency,
    );
    reply.header('Location', taskPath(task));
    return withEntityTag(reply, task, toTaskResponse);
  }

  @Put(':id')
  @TasksApi.Update({
    summary: 'Update a task partially',
    description:
      'Absent fields keep their value; `description: null` clears it, `list_id: null` takes the task out of its list; an empty object is a 400.',
  })
  override async update(
    @CurrentUser() userId: string,
    @Param('id', TASK_ID) id: string,
    @Body() body: UpdateTaskDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponse> {
    const task = await this.repository.update(
      userId,
      id,
      toTaskPatch(body, 'update'),
      ifMatchVersion(ifMatch),
    );
    return withEntityTag(reply, task, toTaskResponse);
  }

  @Patch(':id/complete')
  @NoBody()
  @TasksApi.Action({
    summary: 'Toggle whether a task is completed',
    description:
      'Flips `completed` in one statement, `version` + 1. Completing a recurring task creates its next occurrence in the same statement, named by `next_id`. Takes no body.',
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
    const changes = {
      completed: body.completed,
      listId: body.list_id,
      priority: body.priority,
      addTags: body.add_tags,
      removeTags: body.remove_tags,
    };
    if (Object.values(changes).every((change) => change === undefined)) {
      throw RequestValidationError.of(
        'body',
        'a bulk update must set completed, list_id, priority, add_tags or remove_tags',
      );
    }
    const tasks = await this.repository.bulkUpdate(userId, body.ids, changes);
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
    const refused = [
      'sort',
      'completed',
      'list_id',
      'priority',
      'tag',
      'due_from',
      'due_to',
      'has_due',
      'q',
    ].filter((name) => given[name] !== undefined);
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

/** The fields of a create or an update body, as the repository names them. */
const toTaskPatch = (
  body: CreateTaskDto | UpdateTaskDto,
  mode: 'create' | 'update',
): TaskPatch => ({
  ...recurrenceChanges(body, mode),
  title: body.title,
  description: body.description,
  completed: body.completed,
  listId: body.list_id,
  priority: body.priority,
  dueDate: body.due_date,
  dueTime: body.due_time,
  timeZone: body.time_zone,
  tags: body.tags,
  remindAt: body.remind_at,
});

/** `sort` as given; without it, relevance with `q` and newest first without. */
function listSort(query: ListTasksQueryDto, request: FastifyRequest): TaskSort {
  const given = (request.query as Record<string, unknown>).sort !== undefined;
  if (query.q === undefined && query.sort === 'relevance') {
    throw RequestValidationError.of('sort', 'sort=relevance needs a search (q)');
  }
  return given ? query.sort : query.q === undefined ? DEFAULT_TASK_SORT : DEFAULT_SEARCH_SORT;
}

/** The words of a search, split at white space (each is matched as plain text). */
const searchWords = (q: string): string[] => q.split(/\s+/u).filter((word) => word !== '');

const taskPath = (task: Task): string => `/api/${encodeURIComponent(task.userId)}/tasks/${task.id}`;
