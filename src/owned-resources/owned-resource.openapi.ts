import { applyDecorators, type Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProperty,
  getSchemaPath,
} from '@nestjs/swagger';
import type { NotFoundCode } from '../http/error-codes';
import { DescribedTag } from '../http/openapi-tags';
import { ApiProblemResponse } from '../http/problem-details.dto';

export interface OwnedResourceApiOptions {
  /** The OpenAPI tag of its routes: "tasks". */
  tag: string;
  /** How descriptions name one: "task". */
  noun: string;
  /** How descriptions name several: "task lists". Default: the tag. */
  plural?: string;
  /** The wire form of one. */
  response: Type<unknown>;
  notFoundCode: NotFoundCode;
}

/** An operation's one-line summary and its description (what it does, and when it refuses). */
interface Described {
  summary: string;
  description: string;
}

/** The wire form of one, with `deleted: false`: a live item in the changes feed. */
function liveChangeOf(response: Type<unknown>): Type<unknown> {
  class LiveChange extends (response as Type<object>) {
    @ApiProperty({ type: Boolean, enum: [false], description: 'A live item.' })
    deleted!: false;
  }
  Object.defineProperty(LiveChange, 'name', { value: `${response.name}Change` });
  return LiveChange;
}

/**
 * The OpenAPI description of an owned collection (`/api/:userId/<resource>`) and its items, kept
 * out of the controllers so that they read as code. Each resource calls this once and puts the
 * decorators it returns on its controller and handlers.
 */
export function ownedResourceApi({
  tag,
  noun,
  plural = tag,
  response,
  notFoundCode,
}: OwnedResourceApiOptions) {
  const etagHeader = {
    ETag: {
      description: `The ${noun}'s version, for If-Match: "<version>"`,
      schema: { type: 'string' },
    },
  };
  const item = () =>
    applyDecorators(
      ApiParam({ name: 'id', type: String, format: 'uuid', description: `The ${noun} id.` }),
      ApiProblemResponse(404, [notFoundCode], `No such ${noun} for this user`),
    );
  const ifMatch = () =>
    applyDecorators(
      ApiHeader({
        name: 'If-Match',
        required: false,
        description: `Either * or the ETag of the ${noun} ("<version>"): the change applies only to that version.`,
      }),
      ApiProblemResponse(
        412,
        ['PRECONDITION_FAILED'],
        `The ${noun} is not at the If-Match version`,
      ),
    );
  const jsonBody = () =>
    applyDecorators(
      ApiProblemResponse(413, ['PAYLOAD_TOO_LARGE'], 'The body is over 64 KiB'),
      ApiProblemResponse(415, ['UNSUPPORTED_MEDIA_TYPE'], 'The body is not application/json'),
    );

  const liveChange = liveChangeOf(response);
  const idempotencyKey = () =>
    applyDecorators(
      ApiHeader({
        name: 'Idempotency-Key',
        required: false,
        description:
          'Makes the create safe to retry: the same key with the same body answers the first response again (same status, body and Location; its ETag only while the resource is still at that version) and stores nothing new. 1 to 255 printable ASCII characters, kept for IDEMPOTENCY_TTL_HOURS, scoped to the caller.',
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7E]+$' },
      }),
      ApiProblemResponse(
        409,
        ['IDEMPOTENCY_KEY_IN_USE'],
        'A request with this key is still being processed; retry later',
      ),
      ApiProblemResponse(
        422,
        ['IDEMPOTENCY_KEY_REUSED'],
        'The key was used for another request (method, path or body)',
      ),
    );

  return {
    /**
     * On the controller: the tag, the bearer scheme and the errors of any route (`:userId` is
     * described for every route that has it, in openapi-edge.ts).
     */
    Controller: () =>
      applyDecorators(
        DescribedTag(tag, `The caller's ${plural}; every route needs a bearer token`),
        ApiBearerAuth(),
        ApiProblemResponse(
          401,
          ['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED'],
          'No valid bearer token',
        ),
        ApiProblemResponse(403, ['FORBIDDEN'], "The path's user id is not the token's subject"),
        ApiProblemResponse(500, ['INTERNAL_ERROR'], 'Unexpected error'),
        ApiProblemResponse(
          503,
          ['SERVICE_UNAVAILABLE', 'SERVICE_OVERLOADED'],
          'The database is unavailable, or this instance has too many requests in flight',
        ),
      ),

    List: ({ summary, description, badQuery }: Described & { badQuery: string }) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiOkResponse({
          type: [response],
          headers: {
            Link: {
              description: `When more follow: \`<url of the next page>; rel="next"\` (RFC 8288).`,
              schema: { type: 'string' },
            },
          },
        }),
        ApiProblemResponse(400, ['VALIDATION_ERROR'], badQuery),
      ),

    Create: ({ summary, description }: Described) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiCreatedResponse({
          type: response,
          headers: {
            Location: { description: `The URL of the new ${noun}`, schema: { type: 'string' } },
            ...etagHeader,
          },
        }),
        ApiProblemResponse(
          400,
          ['VALIDATION_ERROR', 'INVALID_JSON'],
          'Invalid body or Idempotency-Key',
        ),
        jsonBody(),
        idempotencyKey(),
      ),

    /** The changes feed of the collection (specification §10). */
    Changes: ({ summary, description }: { summary: string; description: string }) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiExtraModels(liveChange),
        ApiOkResponse({
          schema: {
            type: 'object',
            required: ['changes', 'next', 'has_more'],
            properties: {
              changes: {
                type: 'array',
                items: {
                  oneOf: [
                    { $ref: getSchemaPath(liveChange) },
                    {
                      type: 'object',
                      description: `A ${noun} deleted since the token (a tombstone).`,
                      required: ['id', 'deleted'],
                      properties: {
                        id: { type: 'string', format: 'uuid' },
                        deleted: { type: 'boolean', enum: [true] },
                      },
                      additionalProperties: false,
                    },
                  ],
                },
              },
              next: { type: 'string', description: 'The `since` of the next call. Opaque.' },
              has_more: {
                type: 'boolean',
                description: 'More changes are ready now: ask again with `next` at once.',
              },
            },
          },
        }),
        ApiProblemResponse(400, ['VALIDATION_ERROR'], 'Bad since or limit'),
        ApiProblemResponse(
          410,
          ['SYNC_TOKEN_EXPIRED'],
          `The token is older than the ${noun} deletions kept: sync again without since`,
        ),
      ),

    Get: ({ summary, description }: Described) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiOkResponse({ type: response, headers: etagHeader }),
        item(),
        ApiProblemResponse(400, ['INVALID_UUID'], 'The id is not a UUID'),
      ),

    Update: ({ summary, description }: Described) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiOkResponse({ type: response, headers: etagHeader }),
        item(),
        ifMatch(),
        ApiProblemResponse(
          400,
          ['VALIDATION_ERROR', 'INVALID_JSON', 'INVALID_UUID'],
          'Invalid body, id or If-Match',
        ),
        jsonBody(),
      ),

    /** A bodiless change of one item (a toggle), with If-Match. */
    Action: ({ summary, description }: Described) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiOkResponse({ type: response, headers: etagHeader }),
        item(),
        ifMatch(),
        ApiProblemResponse(400, ['INVALID_UUID', 'VALIDATION_ERROR'], 'Malformed id or If-Match'),
      ),

    Delete: ({ summary, description }: Described) =>
      applyDecorators(
        ApiOperation({ summary, description }),
        ApiNoContentResponse({ description: 'Deleted; no body.' }),
        item(),
        ifMatch(),
        ApiProblemResponse(400, ['INVALID_UUID', 'VALIDATION_ERROR'], 'Malformed id or If-Match'),
      ),
  };
}
