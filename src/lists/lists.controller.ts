import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser } from '../auth/current-user.decorator';
import {
  ChangesQueryDto,
  type ChangesResponse,
  changesSince,
} from '../owned-resources/changes-feed';
import { decodeCursor } from '../owned-resources/cursor';
import { expectedVersion, withEntityTag } from '../owned-resources/entity-tag';
import { IdempotencyKey, type IdempotentRequest } from '../owned-resources/idempotency';
import { notFound } from '../owned-resources/owned-resource';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, withNextLink } from '../owned-resources/pagination';
import { resourceIdPipe } from '../owned-resources/resource-id.pipe';
import { CreateListDto } from './dto/create-list.dto';
import { ListListsQueryDto } from './dto/list-lists-query.dto';
import { ListResponse, toListResponse } from './dto/list.response';
import { UpdateListDto } from './dto/update-list.dto';
import type { List } from './list.entity';
import { ListsApi } from './lists.openapi';
import { ListsRepository } from './lists.repository';
import { LISTS } from './lists.resource';

const LIST_ID = resourceIdPipe('list');
const ifMatchVersion = (ifMatch: string | undefined) => expectedVersion(ifMatch, 'list');

/**
 * The lists REST API (specification §8), under `/api/:userId` like tasks: the global guard binds
 * `:userId` to the token, the repository scopes every statement to that owner, and each handler
 * makes exactly one repository call.
 */
@ListsApi.Controller()
@Controller('api/:userId/lists')
export class ListsController {
  constructor(private readonly lists: ListsRepository) {}

  @Get()
  @ListsApi.List({
    summary: "List the caller's task lists, a page at a time",
    description: `Newest first unless \`sort\` says otherwise; \`limit\` (1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}) per page, and a \`Link\` header to the next page while more follow.`,
    badQuery: 'Bad sort, limit or cursor',
  })
  async list(
    @CurrentUser() userId: string,
    @Query() query: ListListsQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ListResponse[]> {
    const page = await this.lists.list(userId, {
      sort: query.sort,
      limit: query.limit,
      after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, query.sort, LISTS),
    });
    return withNextLink(request, reply, page).map(toListResponse);
  }

  @Post()
  @ListsApi.Create({
    summary: 'Create a task list',
    description: 'Answers 201 with the list, its URL in `Location` and its version in `ETag`.',
  })
  async create(
    @CurrentUser() userId: string,
    @Body() body: CreateListDto,
    @IdempotencyKey() idempotency: IdempotentRequest | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ListResponse> {
    const list = await this.lists.create(userId, { name: body.name }, idempotency);
    reply.header('Location', listPath(list));
    return withEntityTag(reply, list, toListResponse);
  }

  @Get('changes')
  @ListsApi.Changes({
    summary: "What changed in the caller's task lists since a sync token",
    description:
      'Without `since`: every list. With it: every list created or renamed since, with `deleted: false`, and every list deleted since, as `{"id", "deleted": true}`. Apply them in order and ask again with `next`; no change is skipped, one may come twice.',
  })
  changes(
    @CurrentUser() userId: string,
    @Query() query: ChangesQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChangesResponse<ListResponse>> {
    return changesSince(this.lists, LISTS, userId, query, toListResponse, reply);
  }

  @Get(':id')
  @ListsApi.Get({
    summary: 'Get one task list',
    description: "404 when there is no such list, or it is another user's.",
  })
  async findOne(
    @CurrentUser() userId: string,
    @Param('id', LIST_ID) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ListResponse> {
    const list = await this.lists.findOne(userId, id);
    if (!list) throw notFound(LISTS, id);
    return withEntityTag(reply, list, toListResponse);
  }

  @Put(':id')
  @ListsApi.Update({
    summary: 'Rename a task list',
    description: 'With `If-Match`, only if the list is still at that version (else 412).',
  })
  async update(
    @CurrentUser() userId: string,
    @Param('id', LIST_ID) id: string,
    @Body() body: UpdateListDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ListResponse> {
    const list = await this.lists.update(userId, id, { name: body.name }, ifMatchVersion(ifMatch));
    return withEntityTag(reply, list, toListResponse);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ListsApi.Delete({
    summary: 'Delete a task list and its tasks',
    description:
      'Deletes the list and, for good, every task in it (live or in the trash); the changes feed reports each as deleted.',
  })
  async remove(
    @CurrentUser() userId: string,
    @Param('id', LIST_ID) id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.lists.remove(userId, id, ifMatchVersion(ifMatch));
  }
}

const listPath = (list: List): string => `/api/${encodeURIComponent(list.userId)}/lists/${list.id}`;
