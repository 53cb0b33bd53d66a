import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply } from 'fastify';
import { decodeChangeToken, encodeChangeToken, MAX_TOKEN_LENGTH } from './feed-token';
import type { OwnedEntity, OwnedResource } from './owned-resource';
import type { Change, OwnedRepository } from './owned.repository';
import { pageMemory } from './page-memory';
import { MAX_PAGE_SIZE, toInteger } from './pagination';

const LIMIT_MESSAGE = `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`;

/** Query of `GET /api/:userId/<resource>/changes` (specification §10). */
export class ChangesQueryDto {
  @ApiProperty({
    required: false,
    maxLength: MAX_TOKEN_LENGTH,
    description:
      'The `next` of the previous answer, as is; omit it for a first (full) sync. Opaque.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TOKEN_LENGTH, {
    message: `since is at most ${MAX_TOKEN_LENGTH} characters: use the "next" of a previous answer as is`,
  })
  since?: string;

  @ApiProperty({
    required: false,
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: MAX_PAGE_SIZE,
  })
  @Transform(toInteger)
  @IsInt({ message: LIMIT_MESSAGE })
  @Min(1, { message: LIMIT_MESSAGE })
  @Max(MAX_PAGE_SIZE, { message: LIMIT_MESSAGE })
  limit: number = MAX_PAGE_SIZE;
}

/** A change on the wire: the item as on the wire with `deleted: false`, or a tombstone. */
export type WireChange<R> = (R & { deleted: false }) | { id: string; deleted: true };

export interface ChangesResponse<R> {
  changes: WireChange<R>[];
  next: string;
  has_more: boolean;
}

/**
 * One call of a changes feed: the token checked like a cursor (400 when this service did not
 * issue it for this resource), one statement, the next token; the page is held against the
 * process's bound on pages in flight until `reply` is over (page-memory.ts). A client applies the changes in
 * order (upsert by id, delete by id) and asks again with `next`; a change may come twice.
 */
export async function changesSince<E extends OwnedEntity, R>(
  repository: Pick<OwnedRepository<E, string, never, never>, 'changes'>,
  resource: OwnedResource<E, string>,
  userId: string,
  query: ChangesQueryDto,
  toResponse: (item: E) => R,
  reply: FastifyReply,
): Promise<ChangesResponse<R>> {
  const since =
    query.since === undefined ? undefined : decodeChangeToken(resource.table, query.since);
  const page = await repository.changes(userId, since, query.limit);
  pageMemory.hold(reply, page.bytes);
  return {
    changes: page.changes.map((change) => wireChange(change, toResponse)),
    next: encodeChangeToken(resource.table, page.next),
    has_more: page.hasMore,
  };
}

/**
 * A change as the feed (and a live event) answers it: the item with `deleted: false`, or a
 * tombstone. `toResponse` makes a new object for each item (as wire-form.ts and the features'
 * mappers do), so `deleted` is added to it rather than to a copy: a first sync maps 1,000 items
 * a call.
 */
export function wireChange<E, R>(change: Change<E>, toResponse: (item: E) => R): WireChange<R> {
  if (change.deleted) return { id: change.id, deleted: true };
  const wire = toResponse(change.item) as R & { deleted: false };
  wire.deleted = false;
  return wire;
}
