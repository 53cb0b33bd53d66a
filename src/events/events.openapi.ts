import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { ApiProblemResponse } from '../http/problem-details.dto';
import { MAX_STREAMS_PER_USER } from './event-hub';
import { MAX_LIVE_TICKETS, TICKET_TTL_SECONDS } from './stream-tickets';

/** The answer of `POST /api/:userId/events/tickets`. */
export class StreamTicketResponse {
  @ApiProperty({
    description: 'Pass it once as `?ticket=` to `GET /api/{userId}/events`. Opaque.',
    minLength: 43,
    maxLength: 43,
  })
  ticket!: string;

  @ApiProperty({ format: 'date-time', description: 'When the ticket can no longer be used.' })
  expires_at!: string;
}

const STREAM_DESCRIPTION = `Server-Sent Events (\`text/event-stream\`). Events:

- \`ready\` (first; \`data: {}\`): its \`id\` is where the stream starts.
- \`change\`: \`data\` is a task as \`GET /api/{userId}/tasks/changes\` answers it (\`deleted: false\`), or a tombstone \`{"id", "deleted": true}\`; \`id\` is a feed token, also usable as that route's \`since\`.
- \`reminder\`: \`data\` is the task whose \`remind_at\` has passed; sent once, to every open stream of its owner. No \`id\`.
- a comment (\`: keep-alive\`) every 15 s.

Reconnecting with \`Last-Event-ID\` (or \`?last_event_id=\`) sends exactly the changes made since, deletions included, then live ones. Authenticate with a bearer token, or, from a browser's EventSource, with a single-use \`?ticket=\`. At most ${MAX_STREAMS_PER_USER} streams per user (then 429) and EVENTS_MAX_STREAMS per instance (then 503). When the instance shuts down, the stream ends: reconnect.`;

/** The OpenAPI description of live events (specification §15). */
export const EventsApi = {
  Controller: () =>
    applyDecorators(
      ApiTags('events'),
      ApiParam({
        name: 'userId',
        type: String,
        description: "The caller's user id: the token's subject.",
      }),
      ApiProblemResponse(
        401,
        ['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED'],
        'No valid bearer token (or stream ticket)',
      ),
      ApiProblemResponse(403, ['FORBIDDEN'], "The path's user id is not the token's subject"),
      ApiProblemResponse(500, ['INTERNAL_ERROR'], 'Unexpected error'),
    ),

  Stream: () =>
    applyDecorators(
      ApiOperation({
        summary: "A live stream of the caller's task changes and reminders",
        description: STREAM_DESCRIPTION,
      }),
      ApiBearerAuth(),
      // Or no header at all: a `?ticket=` authenticates the stream.
      ApiSecurity({}),
      ApiHeader({
        name: 'Last-Event-ID',
        required: false,
        description: 'The id of the last event received: the stream resumes after it.',
      }),
      ApiOkResponse({
        description: 'The stream; it ends when the instance shuts down.',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      }),
      ApiProblemResponse(400, ['VALIDATION_ERROR'], 'Bad Last-Event-ID or query'),
      ApiProblemResponse(
        410,
        ['SYNC_TOKEN_EXPIRED'],
        'Last-Event-ID is older than the deletions kept: sync again, then open a new stream',
      ),
      // 429 (with Retry-After) is described for every API route: see the description.
      ApiProblemResponse(
        503,
        ['SERVICE_UNAVAILABLE'],
        'The database is unavailable, or this instance holds all the streams it may (or is shutting down)',
      ),
    ),

  IssueTicket: () =>
    applyDecorators(
      ApiOperation({
        summary: 'A single-use ticket for a browser EventSource',
        description: `EventSource cannot send an Authorization header: open \`GET /api/{userId}/events?ticket=<ticket>\` instead, once, within ${TICKET_TTL_SECONDS} s. A used, expired or another user's ticket is 401. At most ${MAX_LIVE_TICKETS} unused tickets per user (then 429).`,
      }),
      ApiBearerAuth(),
      ApiCreatedResponse({ type: StreamTicketResponse }),
      ApiProblemResponse(400, ['VALIDATION_ERROR'], 'A body was sent'),
      ApiProblemResponse(503, ['SERVICE_UNAVAILABLE'], 'The database is unavailable'),
    ),
};
