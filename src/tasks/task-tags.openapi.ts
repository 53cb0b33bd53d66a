import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam } from '@nestjs/swagger';
import { DescribedTag } from '../http/openapi-tags';
import { ApiProblemResponse } from '../http/problem-details.dto';
import { TagResponse, TagsUpdatedResponse } from './dto/tag.dto';
import { TAG_MAX_LENGTH } from './dto/task-fields';

const tagParameter = () =>
  ApiParam({
    name: 'name',
    type: String,
    description: `The tag, in any case (1 to ${TAG_MAX_LENGTH} characters, URL-encoded).`,
  });

/** The OpenAPI description of the tags collection (specification §13). */
export const TaskTagsApi = {
  Controller: () =>
    applyDecorators(
      DescribedTag('tags', "The tags on the caller's tasks; every route needs a bearer token"),
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
    ),

  List: () =>
    applyDecorators(
      ApiOperation({
        summary: "List the caller's tags with their task counts",
        description:
          'Every tag on a live task, in case-insensitive order, with how many live tasks carry it; `limit` per page and a `Link` header to the next page while more follow.',
      }),
      ApiOkResponse({
        type: [TagResponse],
        headers: {
          Link: {
            description: 'When more follow: `<url of the next page>; rel="next"` (RFC 8288).',
            schema: { type: 'string' },
          },
        },
      }),
      ApiProblemResponse(400, ['VALIDATION_ERROR'], 'Bad limit or cursor'),
    ),

  Rename: () =>
    applyDecorators(
      ApiOperation({
        summary: 'Rename a tag on every task',
        description:
          'One statement: every live task carrying the tag (in any case) gets the new name instead, `version` + 1, and shows in the changes feed. Into an existing tag, the two merge.',
      }),
      tagParameter(),
      ApiOkResponse({ type: TagsUpdatedResponse }),
      ApiProblemResponse(400, ['VALIDATION_ERROR', 'INVALID_JSON'], 'Bad tag name or body'),
      ApiProblemResponse(404, ['TAG_NOT_FOUND'], 'No live task of this user carries the tag'),
      ApiProblemResponse(413, ['PAYLOAD_TOO_LARGE'], 'The body is over 64 KiB'),
      ApiProblemResponse(415, ['UNSUPPORTED_MEDIA_TYPE'], 'The body is not application/json'),
    ),

  Delete: () =>
    applyDecorators(
      ApiOperation({
        summary: 'Remove a tag from every task',
        description:
          'One statement: every live task carrying the tag (in any case) loses it, `version` + 1, and shows in the changes feed. Takes no body.',
      }),
      tagParameter(),
      ApiOkResponse({ type: TagsUpdatedResponse }),
      ApiProblemResponse(400, ['VALIDATION_ERROR'], 'Bad tag name, or a body'),
      ApiProblemResponse(404, ['TAG_NOT_FOUND'], 'No live task of this user carries the tag'),
    ),
};
