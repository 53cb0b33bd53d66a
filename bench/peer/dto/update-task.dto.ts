import { PartialType } from '@nestjs/mapped-types';
import { CreateTaskDto } from './create-task.dto';

/** Body of `PUT /api/:userId/tasks/:id`: any of the create fields. */
export class UpdateTaskDto extends PartialType(CreateTaskDto) {}
