import { Inject, Injectable } from '@nestjs/common';
import { hash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { InvalidTokenError } from '../auth/auth.errors';
import { CompiledStatements } from '../database/compiled-statements';
import type { IsoTimestamp } from '../database/iso-timestamp';
import { CapacityReachedError } from '../http/request-errors';
import { NIL_UUID } from '../sync/sync.statements';
import type { FeedPosition } from '../sync/change-token';
import { FEED_POSITION, ISSUE_TICKET, REDEEM_TICKET } from './events.statements';

/** How long a ticket can be redeemed (specification §15). */
export const TICKET_TTL_SECONDS = 60;
/** Unused tickets a user may hold at once: a client asks for one per stream it opens. */
export const MAX_LIVE_TICKETS = 20;

/** 32 random bytes, base64url: what `?ticket=` must look like before any SQL runs. */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

const ticketHash = (ticket: string): string => hash('sha256', ticket, 'hex');
const startOf = (xmin: string): FeedPosition => ({ xid: xmin, id: NIL_UUID });

/**
 * Single-use stream tickets, for browsers' EventSource, which cannot send an Authorization
 * header. Kept in PostgreSQL (any replica redeems a ticket another issued), as SHA-256 hashes
 * (a copy of the table opens no stream), scoped to their owner in every statement.
 */
@Injectable()
export class StreamTickets {
  private readonly statements: CompiledStatements;

  constructor(@Inject(DataSource) dataSource: DataSource) {
    this.statements = new CompiledStatements(dataSource);
  }

  async issue(userId: string): Promise<{ ticket: string; expiresAt: IsoTimestamp }> {
    const ticket = randomBytes(32).toString('base64url');
    const [row] = await this.statements.rows<{ expires_at: IsoTimestamp }, Record<string, never>>(
      ISSUE_TICKET,
      {},
      {
        userId,
        ticketHash: ticketHash(ticket),
        ttlSeconds: TICKET_TTL_SECONDS,
        maxLive: MAX_LIVE_TICKETS,
      },
    );
    if (!row) {
      throw new CapacityReachedError(
        'caller',
        `You hold ${MAX_LIVE_TICKETS} unused stream tickets: use one, or wait for them to expire (${TICKET_TTL_SECONDS} s).`,
        TICKET_TTL_SECONDS,
      );
    }
    return { ticket, expiresAt: row.expires_at };
  }

  /**
   * Uses `ticket` up for `userId`'s stream, and answers where a new stream starts in the feed.
   * A ticket that is malformed, unknown, used, expired or another user's is the same 401.
   */
  async redeem(userId: string, ticket: string): Promise<FeedPosition> {
    if (!TICKET.test(ticket)) throw invalidTicket();
    const [row] = await this.statements.rows<
      { redeemed: boolean; snapshot_xmin: string },
      Record<string, never>
    >(REDEEM_TICKET, {}, { userId, ticketHash: ticketHash(ticket) });
    if (!row.redeemed) throw invalidTicket();
    return startOf(row.snapshot_xmin);
  }

  /** Where a new stream opened with a bearer token starts in the feed. */
  async currentPosition(): Promise<FeedPosition> {
    const [row] = await this.statements.rows<{ snapshot_xmin: string }, Record<string, never>>(
      FEED_POSITION,
      {},
      {},
    );
    return startOf(row.snapshot_xmin);
  }
}

const invalidTicket = (): InvalidTokenError =>
  new InvalidTokenError(
    'The stream ticket is unknown, used, expired or for another user: ask POST /api/{userId}/events/tickets for a new one',
  );
