import {
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { FastifyReply } from 'fastify';
import {
  authenticateCaller,
  type RawRequestWithCaller,
  type RouteRequest,
} from '../auth/bearer-auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import { Public } from '../auth/public.decorator';
import { TokenVerifier } from '../auth/token-verifier';
import { leaveInFlight } from '../health/request-shedding';
import { NoBody } from '../http/no-body';
import { RequestValidationError } from '../http/request-errors';
import { decodeChangeToken } from '../owned-resources/feed-token';
import type { FeedPosition } from '../sync/change-token';
import { TASKS } from '../tasks/tasks.resource';
import { EventHub } from './event-hub';
import { EventsApi, StreamTicketResponse } from './events.openapi';
import { StreamTickets } from './stream-tickets';

const EVENT_STREAM = 'text/event-stream; charset=utf-8';

/** Query of `GET /api/:userId/events`. */
export class EventStreamQueryDto {
  @ApiProperty({
    required: false,
    description:
      'A single-use ticket from `POST /api/{userId}/events/tickets`, instead of a bearer token (browsers’ EventSource sends no headers).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  ticket?: string;

  @ApiProperty({
    required: false,
    description:
      'The id of the last event received, for a client that cannot send `Last-Event-ID` (a new EventSource); the header wins.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  last_event_id?: string;
}

/** The id of an event this service sent, or a 400 naming where it came from. */
function resumePosition(token: string, field: string): FeedPosition {
  try {
    return decodeChangeToken(TASKS.table, token);
  } catch {
    throw RequestValidationError.of(
      field,
      `${field} is not the id of an event this service sent; reconnect without it (after a full sync)`,
    );
  }
}

/**
 * Live events (specification §15): a Server-Sent Events stream of the caller's task changes and
 * reminders, and the tickets that let a browser open one. Design: docs/events.md.
 */
@EventsApi.Controller()
@Controller('api/:userId/events')
export class EventsController {
  constructor(
    private readonly hub: EventHub,
    private readonly tickets: StreamTickets,
    private readonly verifier: TokenVerifier,
  ) {}

  @Get()
  // Not the global guard: a bearer token or a ticket authenticates the stream, below.
  @Public()
  @EventsApi.Stream()
  async stream(
    @Param('userId') userId: string,
    @Query() query: EventStreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: RouteRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const resumeFrom =
      lastEventId !== undefined
        ? resumePosition(lastEventId, 'Last-Event-ID')
        : query.last_event_id !== undefined
          ? resumePosition(query.last_event_id, 'last_event_id')
          : undefined;
    // A ticket is used up before the stream is reserved, so that tickets of no value (another
    // user's, made up) cannot hold the owner's places while the database answers.
    const ticketStart =
      query.ticket !== undefined && request.headers.authorization === undefined
        ? await this.tickets.redeem(userId, query.ticket)
        : null;
    if (ticketStart === null) await authenticateCaller(this.verifier, request);
    else (request.raw as RawRequestWithCaller).userId = userId;

    if (request.method === 'HEAD') {
      // Headers only: no stream is opened for a request that would never read it.
      void reply.header('Content-Type', EVENT_STREAM).header('Cache-Control', 'no-store').send();
      return;
    }
    const slot = this.hub.reserve(userId);
    try {
      const position = resumeFrom ?? ticketStart ?? (await this.tickets.currentPosition());
      const stream = await this.hub.start(userId, position, resumeFrom !== undefined);
      leaveInFlight(reply.raw);
      void reply
        .header('Content-Type', EVENT_STREAM)
        .header('Cache-Control', 'no-store')
        // nginx and its kind would otherwise hold events back to fill a buffer.
        .header('X-Accel-Buffering', 'no')
        .send(stream.body);
      // However the response ends (the client left, the stream was ended), the stream goes.
      reply.raw.once('close', () => stream.body.destroy());
      slot.attach(stream);
    } catch (error) {
      slot.release();
      throw error;
    }
  }

  @Post('tickets')
  @HttpCode(HttpStatus.CREATED)
  @NoBody()
  @EventsApi.IssueTicket()
  async issueTicket(@CurrentUser() userId: string): Promise<StreamTicketResponse> {
    const { ticket, expiresAt } = await this.tickets.issue(userId);
    return { ticket, expires_at: expiresAt };
  }
}
