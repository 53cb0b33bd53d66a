import { ListNameField } from './list-fields';

/** Body of `POST /api/:userId/lists`. */
export class CreateListDto {
  @ListNameField()
  name!: string;
}
