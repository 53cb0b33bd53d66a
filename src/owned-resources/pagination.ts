import { Type } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodeCursor, MAX_CURSOR_LENGTH } from './cursor';
import type { Page } from './owned.repository';
import { pageMemory } from './page-memory';

export const MAX_PAGE_SIZE = 1000;
// A client that never follows `Link` still gets a whole list of up to 1,000 (specification §9).
export const DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE;

// Query strings are text; only these exact spellings are read as a boolean or a number.
export const toBoolean = ({ value }: { value: unknown }): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;
export const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^[0-9]{1,6}$/.test(value) ? Number(value) : value;

export interface PageQuery<Sort extends string> {
  sort: Sort;
  limit: number;
  cursor?: string;
}

/**
 * The query DTO of a collection: `sort` (one of `sorts`), `limit` and `cursor`. A resource's own
 * query DTO extends the class this returns and adds its filters.
 */
export function PageQueryDto<Sort extends string>(
  sorts: readonly Sort[],
  defaultSort: Sort,
): Type<PageQuery<Sort>> {
  class PageQueryDto implements PageQuery<Sort> {
    @ApiProperty({
      required: false,
      enum: sorts,
      default: defaultSort,
      description: 'Sort key; a leading "-" sorts descending. Ties are broken by id.',
    })
    @IsIn(sorts, { message: `sort must be one of ${sorts.join(', ')}` })
    sort: Sort = defaultSort;

    @ApiProperty({
      required: false,
      type: 'integer',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      default: DEFAULT_PAGE_SIZE,
    })
    @Transform(toInteger)
    @IsInt({ message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
    @Min(1, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
    @Max(MAX_PAGE_SIZE, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
    limit: number = DEFAULT_PAGE_SIZE;

    @ApiProperty({
      required: false,
      maxLength: MAX_CURSOR_LENGTH,
      description: 'Opaque; taken from the Link header of the previous page.',
    })
    @IsOptional()
    @IsString()
    @MaxLength(MAX_CURSOR_LENGTH, {
      message: `cursor is at most ${MAX_CURSOR_LENGTH} characters: use the URL of the Link header as is`,
    })
    cursor?: string;
  }
  return PageQueryDto;
}

/**
 * Sets `Link: <next page>; rel="next"` when more items follow, holds the page against the
 * process's bound on pages in flight until the response is over (page-memory.ts), and returns the
 * page's items. The link is the same path and query with the next cursor: a relative reference
 * (RFC 8288 §3.1), so it stays right behind proxies that rewrite the host or scheme.
 */
export function withNextLink<E, Sort extends string>(
  request: FastifyRequest,
  reply: FastifyReply,
  page: Page<E, Sort>,
): E[] {
  pageMemory.hold(reply, page.bytes);
  if (page.next) setNextLink(request, reply, encodeCursor(page.next));
  return page.items;
}

/**
 * Sets `Link` to this request's URL with `cursor` set to the next page's (sealed) cursor. The path
 * is rebuilt from its decoded segments, each percent-encoded again: the request's own text may
 * hold characters (`>`, `,`, `;`, a space) that a client sent raw and that would end or split the
 * `Link` value.
 */
export function setNextLink(request: FastifyRequest, reply: FastifyReply, cursor: string): void {
  const requestUrl = request.url;
  const queryStart = requestUrl.indexOf('?');
  const rawPath = queryStart === -1 ? requestUrl : requestUrl.slice(0, queryStart);
  const path = rawPath.split('/').map(encodedSegment).join('/');
  const query = new URLSearchParams(queryStart === -1 ? '' : requestUrl.slice(queryStart + 1));
  query.set('cursor', cursor);
  reply.header('Link', `<${path}?${query.toString()}>; rel="next"`);
}

/** A path segment percent-encoded anew; one the router could not decode is encoded as it is. */
function encodedSegment(segment: string): string {
  try {
    return encodeURIComponent(decodeURIComponent(segment));
  } catch {
    return encodeURIComponent(segment);
  }
}
