import { Body, Controller, Delete, Get, Param, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser } from '../auth/current-user.decorator';
import { NoBody } from '../http/no-body';
import { RequestValidationError } from '../http/request-errors';
import { setNextLink } from '../owned-resources/pagination';
import {
  decodeTagCursor,
  encodeTagCursor,
  ListTagsQueryDto,
  RenameTagDto,
  TagResponse,
  TagsUpdatedResponse,
} from './dto/tag.dto';
import { isTagName, TAG_MAX_LENGTH } from './dto/task-fields';
import { TaskTagsApi } from './task-tags.openapi';
import { TasksRepository } from './tasks.repository';

/** The `:name` of a tag route, trimmed; else 400 on `name`. */
function tagOfPath(name: string): string {
  const trimmed = name.trim();
  if (!isTagName(trimmed)) {
    throw RequestValidationError.of(
      'name',
      `the tag in the path must be 1 to ${TAG_MAX_LENGTH} characters, with no control characters`,
    );
  }
  return trimmed;
}

/**
 * The tags collection (specification §13): a tag is a name carried by the caller's tasks,
 * matched case-insensitively. Each handler is one repository call, one statement.
 */
@TaskTagsApi.Controller()
@Controller('api/:userId/tags')
export class TaskTagsController {
  constructor(private readonly tasks: TasksRepository) {}

  @Get()
  @TaskTagsApi.List()
  async list(
    @CurrentUser() userId: string,
    @Query() query: ListTagsQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TagResponse[]> {
    const page = await this.tasks.listTags(userId, {
      limit: query.limit,
      afterKey: query.cursor === undefined ? undefined : decodeTagCursor(query.cursor),
    });
    const last = page.items.at(-1);
    if (page.more && last) setNextLink(request, reply, encodeTagCursor(last.key));
    return page.items.map((tag) => ({ name: tag.name, task_count: tag.taskCount }));
  }

  @Put(':name')
  @TaskTagsApi.Rename()
  async rename(
    @CurrentUser() userId: string,
    @Param('name') name: string,
    @Body() body: RenameTagDto,
  ): Promise<TagsUpdatedResponse> {
    return { updated: await this.tasks.renameTag(userId, tagOfPath(name), body.name) };
  }

  @Delete(':name')
  @NoBody()
  @TaskTagsApi.Delete()
  async remove(
    @CurrentUser() userId: string,
    @Param('name') name: string,
  ): Promise<TagsUpdatedResponse> {
    return { updated: await this.tasks.deleteTag(userId, tagOfPath(name)) };
  }
}
