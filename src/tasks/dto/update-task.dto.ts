import type { TaskPriority } from '../task.entity';
import {
  CompletedField,
  DescriptionField,
  DueDateField,
  DueTimeField,
  ListIdField,
  PriorityField,
  RecurrenceField,
  RemindAtField,
  TagsField,
  TimeZoneField,
  TitleField,
} from './task-fields';

/**
 * Body of `PUT /api/:userId/tasks/:id`: a partial update. Absent fields keep their value,
 * `description: null` clears the description, `list_id: null` takes the task out of its list,
 * `due_date: null` (with `due_time` and `time_zone`) makes it undated; at least one field must be
 * present.
 */
export class UpdateTaskDto {
  @TitleField({ required: false })
  title?: string;

  @DescriptionField()
  description?: string | null;

  @CompletedField({ description: 'May not be null.' })
  completed?: boolean;

  @ListIdField({ description: 'Moves the task to one of your lists; null: to no list.' })
  list_id?: string | null;

  @PriorityField({ description: 'May not be null.' })
  priority?: TaskPriority;

  @DueDateField()
  due_date?: string | null;

  @DueTimeField({ mode: 'update' })
  due_time?: string | null;

  @TimeZoneField({ mode: 'update' })
  time_zone?: string | null;

  @TagsField({
    name: 'tags',
    description:
      'Replaces the tags: up to 20 names, matched case-insensitively (a name you already use keeps its first spelling); [] removes them all.',
  })
  tags?: string[];

  @RecurrenceField()
  recurrence?: string | null;

  @RemindAtField()
  remind_at?: string | null;
}
