import { applyDecorators } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam } from '@nestjs/swagger';
import { ApiProblemResponse } from '../http/problem-details.dto';
import { ClearedTasksResponse } from './dto/clear-completed-query.dto';
import { TaskResponse } from './dto/task.response';

/**
 * The OpenAPI description of the trash and bulk routes of tasks (specification §11); the errors
 * every route shares are on the controller (`TasksApi.Controller`).
 */
export const TaskTrashApi = {
  Restore: () =>
    applyDecorators(
      ApiOperation({
        summary: 'Restore a task from the trash',
        description:
          "The task comes back as it was, with `version` + 1. 404 if it is not in your trash (live, purged, missing or another user's). Takes no body.",
      }),
      ApiParam({ name: 'id', type: String, format: 'uuid', description: 'The task id.' }),
      ApiOkResponse({
        type: TaskResponse,
        headers: {
          ETag: {
            description: 'The task\'s version, for If-Match: "<version>"',
            schema: { type: 'string' },
          },
        },
      }),
      ApiProblemResponse(400, ['INVALID_UUID', 'VALIDATION_ERROR'], 'Malformed id, or a body'),
      ApiProblemResponse(404, ['TASK_NOT_FOUND'], 'No such task in the trash of this user'),
    ),

  BulkUpdate: () =>
    applyDecorators(
      ApiOperation({
        summary: 'Change many tasks at once',
        description:
          "Sets `completed` and/or `list_id` on every task named in `ids`, in one statement: all change (each `version` + 1) or, if any id is missing, trashed or another user's, none does (404). Completing recurring tasks creates their next occurrences in the same statement.",
      }),
      ApiOkResponse({ type: [TaskResponse], description: 'The changed tasks.' }),
      ApiProblemResponse(
        400,
        ['VALIDATION_ERROR', 'INVALID_JSON'],
        'Invalid body, no change named, or list_id not one of your lists',
      ),
      ApiProblemResponse(404, ['TASK_NOT_FOUND'], 'Some id is not a live task of this user'),
    ),

  ClearCompleted: () =>
    applyDecorators(
      ApiOperation({
        summary: 'Move every completed task to the trash',
        description:
          'Requires `completed=true` (a bare DELETE of the collection is refused); `list_id` limits it to one list. One statement. Takes no body.',
      }),
      ApiOkResponse({ type: ClearedTasksResponse }),
      ApiProblemResponse(
        400,
        ['VALIDATION_ERROR'],
        'completed=true missing, a bad list_id, or a body',
      ),
    ),
};
