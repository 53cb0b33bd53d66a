import {
  CompletedField,
  DescriptionField,
  ListIdField,
  RemindAtField,
  TitleField,
} from './task-fields';

/**
 * Body of `PUT /api/:userId/tasks/:id`: a partial update. Absent fields keep their value,
 * `description: null` clears the description, `list_id: null` takes the task out of its list;
 * at least one field must be present.
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

  @RemindAtField()
  remind_at?: string | null;
}
