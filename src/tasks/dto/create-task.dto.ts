import { CompletedField, DescriptionField, TitleField } from './task-fields';

/** Body of `POST /api/:userId/tasks`. */
export class CreateTaskDto {
  @TitleField({ required: true })
  title!: string;

  @DescriptionField()
  description?: string | null;

  @CompletedField({ description: 'Defaults to false.' })
  completed?: boolean;
}
