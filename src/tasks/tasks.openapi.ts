import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiProblemResponse } from '../http/problem-details.dto';
import { TaskResponse } from './dto/task.response';

// The OpenAPI description of the tasks routes, kept out of the controller so that it reads as code.

const etagHeader = {
  ETag: {
    description: 'The task\'s version, for If-Match: "<version>"',
    schema: { type: 'string' },
  },
};

/** On every tasks route: the tag, the bearer scheme, `:userId` and the errors any route can give. */
export const ApiTasksController = () =>
  applyDecorators(
    ApiTags('tasks'),
    ApiBearerAuth(),
    ApiParam({
      name: 'userId',
      type: String,
      description: "The caller's user id: must be the token's subject.",
    }),
    ApiProblemResponse(
      401,
      ['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED'],
      'No valid bearer token',
    ),
    ApiProblemResponse(403, ['FORBIDDEN'], "The path's user id is not the token's subject"),
    ApiProblemResponse(500, ['INTERNAL_ERROR'], 'Unexpected error'),
    ApiProblemResponse(503, ['SERVICE_UNAVAILABLE'], 'The database is unavailable'),
  );

const taskId = () =>
  applyDecorators(
    ApiParam({ name: 'id', type: String, format: 'uuid', description: 'The task id.' }),
    ApiProblemResponse(404, ['TASK_NOT_FOUND'], 'No such task for this user'),
  );

const ifMatch = () =>
  applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        'Either * or the ETag of the task ("<version>"): the change applies only to that version.',
    }),
    ApiProblemResponse(412, ['PRECONDITION_FAILED'], 'The task is not at the If-Match version'),
  );

const jsonBody = () =>
  applyDecorators(
    ApiProblemResponse(413, ['PAYLOAD_TOO_LARGE'], 'The body is over 64 KiB'),
    ApiProblemResponse(415, ['UNSUPPORTED_MEDIA_TYPE'], 'The body is not application/json'),
  );

export const ApiListTasks = () =>
  applyDecorators(
    ApiOperation({ summary: "List the caller's tasks, a page at a time" }),
    ApiOkResponse({
      type: [TaskResponse],
      headers: {
        Link: {
          description: 'When more tasks follow: `<url of the next page>; rel="next"` (RFC 8288).',
          schema: { type: 'string' },
        },
      },
    }),
    ApiProblemResponse(400, ['VALIDATION_ERROR'], 'Bad completed, sort, limit or cursor'),
  );

export const ApiCreateTask = () =>
  applyDecorators(
    ApiOperation({ summary: 'Create a task' }),
    ApiCreatedResponse({
      type: TaskResponse,
      headers: {
        Location: { description: 'The URL of the new task', schema: { type: 'string' } },
        ...etagHeader,
      },
    }),
    ApiProblemResponse(400, ['VALIDATION_ERROR', 'INVALID_JSON'], 'Invalid body'),
    jsonBody(),
  );

export const ApiGetTask = () =>
  applyDecorators(
    ApiOperation({ summary: 'Get one task' }),
    ApiOkResponse({ type: TaskResponse, headers: etagHeader }),
    taskId(),
    ApiProblemResponse(400, ['INVALID_UUID'], 'The id is not a UUID'),
  );

export const ApiUpdateTask = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Update a task partially',
      description:
        'Absent fields keep their value; `description: null` clears it; an empty object is a 400.',
    }),
    ApiOkResponse({ type: TaskResponse, headers: etagHeader }),
    taskId(),
    ifMatch(),
    ApiProblemResponse(
      400,
      ['VALIDATION_ERROR', 'INVALID_JSON', 'INVALID_UUID'],
      'Invalid body, id or If-Match',
    ),
    jsonBody(),
  );

export const ApiToggleTask = () =>
  applyDecorators(
    ApiOperation({ summary: 'Toggle whether a task is completed' }),
    ApiOkResponse({ type: TaskResponse, headers: etagHeader }),
    taskId(),
    ifMatch(),
    ApiProblemResponse(400, ['INVALID_UUID', 'VALIDATION_ERROR'], 'Malformed id or If-Match'),
  );

export const ApiDeleteTask = () =>
  applyDecorators(
    ApiOperation({ summary: 'Delete a task' }),
    ApiNoContentResponse({ description: 'Deleted; no body.' }),
    taskId(),
    ifMatch(),
    ApiProblemResponse(400, ['INVALID_UUID', 'VALIDATION_ERROR'], 'Malformed id or If-Match'),
  );
