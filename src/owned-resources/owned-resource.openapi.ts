import { applyDecorators, type Type } from '@nestjs/common';
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
import type { ErrorCode } from '../http/error-codes';
import { ApiProblemResponse } from '../http/problem-details.dto';

export interface OwnedResourceApiOptions {
  /** The OpenAPI tag of its routes: "tasks". */
  tag: string;
  /** How descriptions name one: "task". */
  noun: string;
  /** The wire form of one. */
  response: Type<unknown>;
  notFoundCode: ErrorCode;
}

/** An operation's one-line summary and its description (what it does, and when it refuses). */
interface Described {
  summary: string;
  description: string;
}

/**
 * The OpenAPI description of an owned collection (`/api/:userId/<resource>`) and its items, kept
 * out of the controllers so that they read as code. Each resource calls this once and puts the
 * decorators it returns on its controller and handlers.
 */
export function ownedResourceApi({ tag, noun, response, notFoundCode }: OwnedResourceApiOptions) {
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

  return {
    /** On the controller: the tag, the bearer scheme, `:userId` and the errors of any route. */
    Controller: () =>
      applyDecorators(
        ApiTags(tag),
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
        ApiProblemResponse(400, ['VALIDATION_ERROR', 'INVALID_JSON'], 'Invalid body'),
        jsonBody(),
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
