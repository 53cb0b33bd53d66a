import {
  CompletedField,
  DescriptionField,
  ListIdField,
  RemindAtField,
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

  @RemindAtField()
  remind_at?: string | null;
}
