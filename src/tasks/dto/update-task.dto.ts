import { CompletedField, DescriptionField, TitleField } from './task-fields';

/**
 * Body of `PUT /api/:userId/tasks/:id`: a partial update. Absent fields keep their value,
 * `description: null` clears the description; at least one field must be present.
 */
export class UpdateTaskDto {
  @TitleField({ required: false })
  title?: string;

  @DescriptionField()
  description?: string | null;

  @CompletedField({ description: 'May not be null.' })
  completed?: boolean;
}
