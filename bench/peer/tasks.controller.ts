import {
  Body,
  Controller,
  Get,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Put,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQueryDto } from './dto/list-tasks-query.dto';
import { TaskResponseDto, toTaskResponse } from './dto/task-response.dto';
import { UpdateTaskDto } from './dto/update-task.dto';
import { JwtAuthGuard } from './jwt.guard';
import type { Task } from './task.entity';
import { TasksService } from './tasks.service';

/** The routes of the benchmark, as a team would write them from the NestJS docs. */
@Controller('api/:userId/tasks')
@UseGuards(JwtAuthGuard)
export class TasksController {
  constructor(private readonly tasksService: TasksService) {}

  @Get()
  async findAll(
    @Param('userId') userId: string,
    @Query() query: ListTasksQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponseDto[]> {
    const page = await this.tasksService.findPage(userId, query.limit, query.cursor);
    if (page.nextCursor) {
      const next = new URLSearchParams({ limit: String(query.limit), cursor: page.nextCursor });
      reply.header('Link', `</api/${encodeURIComponent(userId)}/tasks?${next}>; rel="next"`);
    }
    return page.tasks.map(toTaskResponse);
  }

  @Get(':id')
  async findOne(
    @Param('userId') userId: string,
    @Param('id', ParseUUIDPipe) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponseDto> {
    return withETag(reply, await this.tasksService.findOne(userId, id));
  }

  @Post()
  async create(
    @Param('userId') userId: string,
    @Body() dto: CreateTaskDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponseDto> {
    const task = await this.tasksService.create(userId, dto);
    reply.header('Location', `/api/${encodeURIComponent(userId)}/tasks/${task.id}`);
    return withETag(reply, task);
  }

  @Put(':id')
  async update(
    @Param('userId') userId: string,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() dto: UpdateTaskDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponseDto> {
    return withETag(reply, await this.tasksService.update(userId, id, dto));
  }

  @Patch(':id/complete')
  async toggleCompleted(
    @Param('userId') userId: string,
    @Param('id', ParseUUIDPipe) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResponseDto> {
    return withETag(reply, await this.tasksService.toggleCompleted(userId, id));
  }
}

/** The task's version as its entity tag, as the service sends it. */
function withETag(reply: FastifyReply, task: Task): TaskResponseDto {
  reply.header('ETag', `"${task.version}"`);
  return toTaskResponse(task);
}
