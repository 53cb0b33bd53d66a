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

/** Body of `POST /api/:userId/tasks`. */
export class CreateTaskDto {
  @TitleField({ required: true })
  title!: string;

  @DescriptionField()
  description?: string | null;

  @CompletedField({ description: 'Defaults to false.' })
  completed?: boolean;

  @ListIdField({ description: 'One of your lists; absent or null: no list.' })
  list_id?: string | null;

  @PriorityField({ description: 'Defaults to none.' })
  priority?: TaskPriority;

  @DueDateField()
  due_date?: string | null;

  @DueTimeField({ mode: 'create' })
  due_time?: string | null;

  @TimeZoneField({ mode: 'create' })
  time_zone?: string | null;

  @TagsField({
    name: 'tags',
    description:
      'Up to 20 names, matched case-insensitively: a name you already use keeps its first spelling; duplicates collapse. Defaults to none.',
  })
  tags?: string[];

  @RecurrenceField()
  recurrence?: string | null;

  @RemindAtField()
  remind_at?: string | null;
}
