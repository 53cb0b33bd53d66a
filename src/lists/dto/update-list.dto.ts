import { ListNameField } from './list-fields';

/** Body of `PUT /api/:userId/lists/:id`: the new name (a list has no other field to change). */
export class UpdateListDto {
  @ListNameField()
  name!: string;
}
